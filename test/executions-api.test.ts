/** Action executions over the HTTP API, against the real Temporal dev server, workers and Postgres. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { SearchAttributes } from '../common/constants.js';
import {
  alive,
  as,
  dbPool,
  decodedHistoryText,
  eventually,
  historyText,
  http,
  makeKey,
  runViaApi,
  settledCount,
  temporalClient,
  uniqueName,
  waitForEnd,
  type Execution,
} from './helpers.js';

const pool = dbPool();
test.after.always(async () => {
  await pool.end();
});

/** A file in a folder of its own that every user may write in: scripts run as the unprivileged run user. */
function tmpFile(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-test-'));
  fs.chmodSync(dir, 0o777);
  return path.join(dir, name);
}

test('a successful run: 202, then succeeded with exit code 0, its stdout, and argv built from metadata', async (t) => {
  const { id, execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: 'hello world', label: 'x', tag: ['a', 'b'], loud: true } });
  t.is(execution.status, 'succeeded');
  t.is(execution.exitCode, 0);
  t.is(execution.id, id);
  const out = JSON.parse(execution.stdout) as { argv: string[]; region: string; execution: string };
  t.deepEqual(out.argv, ['--label', 'x', '--tag', 'a', '--tag', 'b', '--loud', 'hello world']);
  t.is(out.execution, id);
  t.is(execution.region, 'us-east', 'the first configured region is the default');
  t.regex(execution.worker ?? '', /^us-east@/);
  t.truthy(execution.startedAt);
  t.truthy(execution.finishedAt);
  t.true(typeof execution.durationMs === 'number');
});

test('hostile values reach the script as one literal argument each; no shell runs them', async (t) => {
  const marker = tmpFile('pwned');
  const hostile = [`x; touch ${marker}`, '$(id)', '`id`', '--x; rm -rf /', "'; echo hi; '", 'a\nb'];
  for (const value of hostile) {
    const { execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: value, label: value } });
    t.is(execution.status, 'succeeded', value);
    const out = JSON.parse(execution.stdout) as { argv: string[] };
    t.deepEqual(out.argv, ['--label', value, value], `value ${JSON.stringify(value)}`);
  }
  t.false(fs.existsSync(marker), 'the injected command never ran');
});

test('a failing script: failed, with its exit code and stderr, retried as its metadata declares', async (t) => {
  const { id, execution } = await runViaApi({ action: 'testkit.fail', parameters: { code: 3 } });
  t.is(execution.status, 'failed');
  t.is(execution.exitCode, 3);
  t.regex(execution.stderr, /relation "users" does not exist/);
  t.regex(execution.error ?? '', /exit code 3/);
  t.is(execution.attempt, 3, 'max_attempts: 3 in the metadata');
  const client = await temporalClient();
  // The record is written before the workflow ends: wait for its end, then describe it.
  const err = await t.throwsAsync(client.workflow.getHandle(id).result());
  const desc = await client.workflow.getHandle(id).describe();
  t.is(desc.status.name, 'FAILED');
  t.regex((err?.cause as Error | undefined)?.message ?? err?.message ?? '', /testkit\.fail failed on us-east: exit code 3/);
});

test('a usage error (exit code 2) is not retried', async (t) => {
  const { execution } = await runViaApi({ action: 'testkit.fail', parameters: { code: 2 } });
  t.is(execution.status, 'failed');
  t.is(execution.exitCode, 2);
  t.is(execution.attempt, 1);
});

test('a script over its timeout is killed with everything it started, and the run is timed_out', async (t) => {
  const pidfile = tmpFile('pids');
  const { execution } = await runViaApi({ action: 'testkit.sleep_short_timeout', parameters: { pidfile, seconds: 120 } });
  t.is(execution.status, 'timed_out');
  t.regex(execution.error ?? '', /timeout of 2s/);
  const pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
  t.is(pids.length, 2);
  await eventually(() => pids.every((p) => !alive(p)), 'the script and its child to be gone', 10_000);
  t.pass();
});

test('cancelling a run kills its process group and records it cancelled', async (t) => {
  const pidfile = tmpFile('pids');
  const started = await http<{ id: string }>('POST', '/api/v1/executions', {
    action: 'testkit.sleep',
    parameters: { pidfile, seconds: 300 },
    region: 'eu-west',
  });
  t.is(started.status, 202);
  const pids = await eventually(
    () =>
      fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim().includes(' ')
        ? fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number)
        : undefined,
    'the script to start',
    60_000, // a loaded machine may take a while to start it; the title is about what cancelling does
  );
  t.true(pids.every(alive));
  const cancel = await http('POST', `/api/v1/executions/${started.body.id}/cancel`);
  t.is(cancel.status, 202);
  const execution = await waitForEnd(started.body.id);
  t.is(execution.status, 'cancelled');
  await eventually(() => pids.every((p) => !alive(p)), 'the process group to be gone', 10_000);
  const desc = await (await temporalClient()).workflow.getHandle(started.body.id).describe();
  t.is(desc.status.name, 'CANCELLED');
  const again = await http<{ error: { code: string } }>('POST', `/api/v1/executions/${started.body.id}/cancel`);
  t.is(again.status, 409);
  t.is(again.body.error.code, 'already_finished');
});

test('bad parameters: 400 naming each parameter and problem, and nothing is started', async (t) => {
  const actor = uniqueName('badparams');
  const headers = as((await makeKey({ name: actor, role: 'operator' })).key);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ path: '/', threshold: 'abc' }, /threshold: must be integer/],
    [{ path: '/', threshold: 101 }, /threshold: must be <= 100/],
    [{ threshold: 50 }, /path: is required/],
    [{ path: '/', unit: 'TB' }, /unit: must be one of "B", "GiB", "KiB", "MiB"/],
    [{ path: '/', colour: 'red' }, /colour: is not a parameter of this action; known parameters: path, threshold, unit, json/],
  ];
  for (const [parameters, expected] of cases) {
    const r = await http<{ error: { code: string; message: string; details: { parameter: string }[] } }>(
      'POST',
      '/api/v1/executions',
      { action: 'ops.disk_report', parameters },
      headers,
    );
    t.is(r.status, 400, JSON.stringify(parameters));
    t.is(r.body.error.code, 'invalid_parameters');
    t.regex(r.body.error.message, expected);
  }
  const unknown = await http<{ error: { code: string } }>('POST', '/api/v1/executions', { action: 'ops.nope', parameters: {} }, headers);
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'action_not_found');
  const region = await http<{ error: { message: string } }>(
    'POST',
    '/api/v1/executions',
    { action: 'ops.disk_report', parameters: { path: '/' }, region: 'mars' },
    headers,
  );
  t.is(region.status, 400);
  t.regex(region.body.error.message, /"mars" is not a configured region; use one of us-east, eu-west/);
  const malformed = await http<{ error: { code: string } }>('POST', '/api/v1/executions', '{"action": ', headers);
  t.is(malformed.status, 400);
  t.is(malformed.body.error.code, 'invalid_json');
  // Nothing reached Temporal for this actor (counted once visibility has caught up).
  t.is(await settledCount(`Actor = "${actor}"`, [{ key: SearchAttributes.Actor, value: actor }]), 0);
});

test('a run routed to eu-west is executed by the eu-west worker', async (t) => {
  const { execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: 'where am I' }, region: 'eu-west' });
  t.is(execution.status, 'succeeded');
  t.is(execution.region, 'eu-west');
  t.regex(execution.worker ?? '', /^eu-west@/);
  t.is((JSON.parse(execution.stdout) as { region: string }).region, 'eu-west');
});

test('the execution is recorded in Postgres with secrets masked', async (t) => {
  const { id } = await runViaApi(
    { action: 'testkit.echo_args', parameters: { message: 'm', token: 's3cr3t-value' }, region: 'us-east' },
    // The actor is the key's owner; a header claiming another actor is ignored.
    { ...as((await makeKey({ name: 'alice', role: 'operator' })).key), 'x-stackwire-actor': 'mallory' },
  );
  const { rows } = await pool.query<{
    status: string;
    exit_code: number;
    actor: string;
    trigger: string;
    parameters: Record<string, unknown>;
    argv: string[];
    action_version: number;
  }>('SELECT status, exit_code, actor, trigger, parameters, argv, action_version FROM executions WHERE id = $1', [id]);
  t.is(rows.length, 1);
  const row = rows[0];
  t.is(row.status, 'succeeded');
  t.is(row.exit_code, 0);
  t.is(row.actor, 'alice');
  t.is(row.trigger, 'api');
  t.is(row.action_version, 1);
  t.is(row.parameters.token, '********');
  t.false(JSON.stringify(row.argv).includes('s3cr3t-value'));
  t.true(row.argv.includes('********'));
});

test('search attributes make runs findable through a Temporal visibility query', async (t) => {
  const actor = uniqueName('visibility');
  const { id } = await runViaApi(
    { action: 'testkit.echo_args', parameters: { message: 'find me' }, region: 'eu-west' },
    { ...as((await makeKey({ name: actor, role: 'operator' })).key), 'x-stackwire-trigger': 'webhook.test' },
  );
  const client = await temporalClient();
  const found = await eventually(async () => {
    const ids: string[] = [];
    for await (const wf of client.workflow.list({
      query: `Action = "testkit.echo_args" AND Region = "eu-west" AND Actor = "${actor}" AND \`Trigger\` = "webhook.test"`,
    }))
      ids.push(wf.workflowId);
    return ids.length ? ids : undefined;
  }, 'the run to be visible');
  t.deepEqual(found, [id]);
  const desc = await client.workflow.getHandle(id).describe();
  t.is(desc.typedSearchAttributes.get(SearchAttributes.Region), 'eu-west');
  t.is(desc.typedSearchAttributes.get(SearchAttributes.Action), 'testkit.echo_args');
  t.is(desc.memo?.command, "python3 scripts/echo_args.py --label none 'find me'");
});

test("one action in several regions: one child per region, each run by that region's worker", async (t) => {
  const started = await http<{ id: string; children: string[] }>('POST', '/api/v1/executions', {
    action: 'testkit.echo_args',
    parameters: { message: 'fan out' },
    regions: ['us-east', 'eu-west'],
  });
  t.is(started.status, 202);
  t.is(started.body.children.length, 2);
  const parent = await waitForEnd(started.body.id);
  t.is(parent.status, 'succeeded');
  const children = (parent as unknown as { children: Execution[] }).children;
  t.deepEqual(children.map((c) => c.region).sort(), ['eu-west', 'us-east']);
  for (const c of children) {
    t.is(c.status, 'succeeded');
    t.true((c.worker ?? '').startsWith(`${c.region}@`));
  }
});

test('the same Idempotency-Key starts one run, not two', async (t) => {
  const key = uniqueName('delivery');
  const body = { action: 'testkit.echo_args', parameters: { message: 'once' } };
  const first = await http<{ id: string; deduplicated: boolean }>('POST', '/api/v1/executions', body, { 'idempotency-key': key });
  const second = await http<{ id: string; deduplicated: boolean }>('POST', '/api/v1/executions', body, { 'idempotency-key': key });
  t.is(first.status, 202);
  t.is(second.status, 200);
  t.is(second.body.id, first.body.id);
  t.true(second.body.deduplicated);
  await waitForEnd(first.body.id);
});

test('the catalog is served with parameters and an example command line', async (t) => {
  const list = await http<{ actions: { name: string }[] }>('GET', '/api/v1/actions?pack=ops');
  t.deepEqual(
    list.body.actions.map((a) => a.name),
    ['ops.disk_report', 'ops.service_check'],
  );
  const one = await http<{ name: string; exampleArgv: string[]; parameters: { required: string[] } }>('GET', '/api/v1/actions/ops.service_check');
  t.is(one.status, 200);
  t.deepEqual(one.body.parameters.required, ['host', 'port']);
  t.deepEqual(one.body.exampleArgv, ['bash', 'scripts/service_check.sh', '-t', '3', '-r', '1', '<host>', '1']);
  const missing = await http('GET', '/api/v1/executions/does-not-exist');
  t.is(missing.status, 404);
});

test('a secret parameter never appears in clear text in workflow history, Postgres or the output', async (t) => {
  const secret = `tok-${crypto.randomBytes(8).toString('hex')}`;
  const { id, execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: 'deploy', token: secret } });
  t.is(execution.status, 'succeeded');
  // The script itself received the real value (it echoes its argv); what we keep is masked.
  t.false(execution.stdout.includes(secret));
  t.true(execution.stdout.includes('"--token", "********"'));
  t.is(execution.parameters.token, '********');
  const client = await temporalClient();
  const history = await client.workflow.getHandle(id).fetchHistory();
  t.false(historyText(history).includes('executionId'), 'payloads are ciphertext in history');
  const text = await decodedHistoryText(history);
  t.true(text.includes('executionId'), 'payloads were decoded');
  t.true(text.includes('$sealed'), 'the sealed value is in the workflow input');
  t.false(text.includes(secret), 'the clear value is nowhere in history');
  const { rows } = await pool.query<{ row: string }>('SELECT row_to_json(e)::text AS row FROM executions e WHERE id = $1', [id]);
  t.false(rows[0].row.includes(secret));
});

test('a secret printed across two output chunks is still masked in the live log and the record', async (t) => {
  const secret = `split-${crypto.randomBytes(6).toString('hex')}`;
  const { id, execution } = await runViaApi({ action: 'testkit.split_secret', parameters: { token: secret } });
  t.is(execution.status, 'succeeded');
  const expected = `starting ${'.'.repeat(100)}\ntoken=******** done`;
  t.is(execution.stdout.trim(), expected);
  const logs = await http<{ entries: { data: string }[] }>('GET', `/api/v1/executions/${id}/logs`);
  t.true(logs.body.entries.length >= 2, 'the output arrived in more than one piece');
  const all = logs.body.entries.map((e) => e.data).join('');
  t.is(all.trim(), expected);
  t.false(all.includes(secret.slice(0, 8)) || all.includes(secret.slice(-8)));
});

test('a blob whose content does not match its hash is refused, and nothing of the batch is stored', async (t) => {
  const good = Buffer.from(`good ${crypto.randomBytes(8).toString('hex')}`);
  const bad = Buffer.from(`bad ${crypto.randomBytes(8).toString('hex')}`);
  const hash = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
  const claimed = hash(Buffer.from('something else entirely'));
  const r = await http<{ error: { code: string; message: string } }>('POST', '/api/v1/blobs', {
    files: [
      { sha256: hash(good), content: good.toString('base64') },
      { sha256: claimed, content: bad.toString('base64') },
    ],
  });
  t.is(r.status, 400);
  t.is(r.body.error.code, 'hash_mismatch');
  t.regex(r.body.error.message, /files\[1\]: the content does not match sha256/);
  const missing = await http<{ missing: string[] }>('POST', '/api/v1/blobs/missing', { hashes: [hash(good), claimed] });
  t.deepEqual(missing.body.missing.sort(), [hash(good), claimed].sort(), 'nothing of the refused batch was stored');
  t.is((await http('POST', '/api/v1/blobs', { files: [{ sha256: hash(good), content: good.toString('base64') }] })).status, 200);
  t.deepEqual((await http<{ missing: string[] }>('POST', '/api/v1/blobs/missing', { hashes: [hash(good)] })).body.missing, []);
});
