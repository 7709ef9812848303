/**
 * StackStorm packs run as they ran under st2, through the public surfaces (the CLI and the API) on
 * the real stack: test/fixtures/st2packs/netops has a requirements.txt (a wheel this test builds into
 * the stack's wheelhouse, STACKWIRE_PIP_FIND_LINKS), a config schema with a secret, immutable, object
 * and array parameters, datastore calls, local-shell-cmd actions with and without shell syntax.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { PROJECT_ROOT } from '../lib/config.js';
import { API, cli, eventually, http, runViaApi, sleep, waitForEnd } from './helpers.js';
import { startSshd } from './sshd.js';

const FIXTURE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'st2packs', 'netops');
const TOKEN = 'ipam-token-7f3a9c';

/** A pure-Python wheel built by hand (a zip with dist-info and a RECORD), so no build tool or index is needed. */
function buildWheel(into: string): void {
  const script = String.raw`
import base64, hashlib, sys, zipfile
files = {
  "swtestlib/__init__.py": "import ipaddress\n\ndef classify(text):\n    try:\n        ip = ipaddress.ip_address(text)\n    except ValueError:\n        return None\n    return 'ipv4' if ip.version == 4 else 'ipv6'\n",
  "swtestlib-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: swtestlib\nVersion: 1.0.0\n",
  "swtestlib-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: stackwire-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    record.append("swtestlib-1.0.0.dist-info/RECORD,,")
    z.writestr("swtestlib-1.0.0.dist-info/RECORD", "\n".join(record) + "\n")
`;
  const r = spawnSync('python3', ['-c', script, path.join(into, 'swtestlib-1.0.0-py3-none-any.whl')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not build the test wheel: ${r.stderr}`);
}

function copyPack(): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-st2-')), 'netops');
  fs.cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

interface Report {
  pack: string;
  actions: { name: string; framework: string }[];
  warnings: { file: string; line: number | null; message: string }[];
  unsupported: { file: string; reason: string }[];
}

async function logText(id: string): Promise<string> {
  const r = await http<{ entries: { stream: string; data: string }[] }>('GET', `/api/v1/executions/${id}/logs`);
  return r.body.entries.map((l) => l.data).join('');
}

let pack: string;

test.before(async () => {
  const wheelhouse = process.env.STACKWIRE_PIP_FIND_LINKS;
  if (!wheelhouse) throw new Error('STACKWIRE_PIP_FIND_LINKS is not set: run this test through npm test');
  buildWheel(wheelhouse);
  pack = copyPack();
  const r = await cli(['ingest', pack, '--no-write', '--json']);
  if (r.code !== 0) throw new Error(`ingest failed (${r.code}): ${r.stdout}\n${r.stderr}`);
});

test.serial('a StackStorm pack imports with its python-script and local-shell-cmd actions; ignored fields are warnings', async (t) => {
  const r = await cli(['ingest', pack, '--no-write', '--dry-run', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  t.deepEqual(
    report.actions.map((a) => [a.name, a.framework]),
    [
      ['netops.collect_facts', 'stackstorm:remote-shell-script'],
      ['netops.greet', 'stackstorm:local-shell-cmd'],
      ['netops.is_valid_ip', 'stackstorm:python-script'],
      ['netops.remember', 'stackstorm:python-script'],
      ['netops.sensor_address_watch', 'stackstorm:sensor'],
      ['netops.shout', 'stackstorm:local-shell-cmd'],
      ['netops.whoami_remote', 'stackstorm:remote-shell-cmd'],
    ],
  );
  t.true(
    report.warnings.some(
      (w) => w.file === 'actions/collect_facts.yaml' && /parameters\.password is ignored: password authentication is not supported/.test(w.message),
    ),
  );
  t.deepEqual(
    report.unsupported.map((u) => u.file).sort(),
    ['actions/cleanup_loop.yaml', 'rules/nightly_audit.yaml', 'rules/on_address_seen.yaml', 'rules/on_ipam_alert.yaml'],
    'every other file is imported or converted',
  );
  t.true(
    report.warnings.some((w) => w.file === 'actions/remember.yaml' && w.line === 6 && /notify is ignored/.test(w.message)),
    JSON.stringify(report.warnings),
  );
  const ip = (await http<{ parameters: { properties: Record<string, Record<string, unknown>> } }>('GET', '/api/v1/actions/netops.is_valid_ip')).body;
  t.like(ip.parameters.properties, { labels: { type: 'object' }, tags: { type: 'array', items: { type: 'string' } }, only_v4: { enum: [true] } });
});

test.serial('a missing required config key is a clear error before the run; bad values are refused with nothing changed', async (t) => {
  const before = await http<{ error: { code: string; message: string } }>('POST', '/api/v1/executions', {
    action: 'netops.is_valid_ip',
    parameters: { address: '10.1.2.3' },
  });
  t.is(before.status, 400);
  t.regex(before.body.error.message, /pack netops is not configured: api_url, api_token .*stackwire pack config netops api_url=/);
  const show = await cli(['pack', 'config', 'netops']);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /missing: api_url, api_token/);
  const bad = await cli(['pack', 'config', 'netops', 'retries=many', 'colour=blue']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /retries: must be an integer/);
  t.regex(bad.stderr, /colour: is not a key of the pack's config\.schema\.yaml/);
  const still = (await http<{ values: Record<string, unknown> }>('GET', '/api/v1/packs/netops/config')).body;
  t.deepEqual(still.values, {}, 'nothing was changed');
  const set = await cli(['pack', 'config', 'netops', 'api_url=http://127.0.0.1:9/ipam', 'retries=5', '--from-env', 'api_token=IPAM_TOKEN', '--json'], {
    IPAM_TOKEN: TOKEN,
  });
  t.is(set.code, 0, set.stderr);
  const view = JSON.parse(set.stdout) as { values: Record<string, { value: unknown; secret: boolean }>; missing: string[] };
  t.deepEqual(view.missing, []);
  t.deepEqual(view.values.retries.value, 5, 'converted to the schema type');
  t.deepEqual(view.values.api_token, { ...view.values.api_token, value: '********', secret: true });
  const { rows } = await import('./helpers.js').then(({ dbPool }) => {
    const pool = dbPool();
    return pool.query<{ value: unknown }>("SELECT value FROM pack_config WHERE pack = 'netops' AND key = 'api_token'").finally(() => pool.end());
  });
  t.false(JSON.stringify(rows[0].value).includes(TOKEN), 'the secret is sealed at rest');
});

test.serial(
  'python-script actions run in the pack environment built once from requirements.txt, with config, immutable, object and array parameters',
  async (t) => {
    const v4 = await runViaApi({ action: 'netops.is_valid_ip', parameters: { address: '10.1.2.3', labels: { team: 'net' }, tags: ['a', 'b'] } });
    t.is(v4.execution.status, 'succeeded', v4.execution.stderr);
    t.deepEqual(JSON.parse(v4.execution.stdout), { address: '10.1.2.3', kind: 'ipv4', labels: { team: 'net' }, tags: ['a', 'b'], retries: 5, sites: ['fra1'] });
    const firstLog = await logText(v4.id);
    t.regex(firstLog, /building the Python environment of pack netops/);
    t.regex(v4.execution.stderr, /actions\.python\.IsValidIp: INFO +calling http:\/\/127\.0\.0\.1:9\/ipam with token \*{8}/);
    t.false(v4.execution.stderr.includes(TOKEN), 'a secret of the config is masked in the output');
    // only_v4 is immutable (true): an IPv6 address is refused by the action, as under st2.
    const v6 = await runViaApi({ action: 'netops.is_valid_ip', parameters: { address: '2001:db8::1' } });
    t.is(v6.execution.status, 'failed');
    t.like(JSON.parse(v6.execution.stdout.trim().split('\n').pop()!) as object, { kind: 'ipv6', error: 'only IPv4 is accepted' });
    t.notRegex(await logText(v6.id), /building the Python environment/, 'the environment is built once and reused');
    const changed = await http<{ error: { message: string } }>('POST', '/api/v1/executions', {
      action: 'netops.is_valid_ip',
      parameters: { address: '::1', only_v4: false },
    });
    t.is(changed.status, 400, 'an immutable parameter cannot be changed');
    const bogus = await runViaApi({ action: 'netops.is_valid_ip', parameters: { address: 'not-an-ip' } });
    t.is(bogus.execution.status, 'failed');
    t.regex(bogus.execution.stderr, /StackStormBaseException: not an IP address: not-an-ip/);
    // The CLI gives an object as JSON.
    const viaCli = await cli(['run', 'netops.is_valid_ip', 'address=192.0.2.7', 'labels={"env":"prod"}', '--json']);
    t.is(viaCli.code, 0, viaCli.stderr);
    t.like(JSON.parse((JSON.parse(viaCli.stdout) as { stdout: string }).stdout) as object, { labels: { env: 'prod' } });
    const badObject = await cli(['run', 'netops.is_valid_ip', 'address=192.0.2.7', 'labels=[1]']);
    t.is(badObject.code, 2);
    t.regex(badObject.stderr, /labels: must be a JSON object/);
  },
);

test.serial('a requirements.txt pip cannot satisfy fails the run with what pip said and where it looked', async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-st2-badreqs-')), 'badreqs');
  fs.mkdirSync(path.join(dir, 'actions'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'pack.yaml'), 'ref: badreqs\nname: badreqs\nversion: 0.0.1\n');
  fs.writeFileSync(path.join(dir, 'requirements.txt'), 'no-such-package-anywhere==9.9.9\n');
  fs.writeFileSync(path.join(dir, 'actions', 'hello.yaml'), 'name: hello\nrunner_type: python-script\nentry_point: hello.py\n');
  fs.writeFileSync(
    path.join(dir, 'actions', 'hello.py'),
    'from st2common.runners.base_action import Action\n\n\nclass Hello(Action):\n    def run(self):\n        return "hi"\n',
  );
  const ing = await cli(['ingest', dir, '--no-write']);
  t.is(ing.code, 0, ing.stderr);
  const r = await runViaApi({ action: 'badreqs.hello', parameters: {} });
  t.is(r.execution.status, 'failed');
  t.regex(r.execution.error ?? '', /pack badreqs: its requirements\.txt could not be installed/);
  t.regex(r.execution.error ?? '', /no-such-package-anywhere/);
  t.regex(r.execution.error ?? '', /STACKWIRE_PIP_FIND_LINKS/);
  t.is((await cli(['pack', 'remove', 'badreqs', '--yes'])).code, 0);
});

test.serial('the datastore: per pack, local keys prefixed as st2 does, TTL, encrypted values sealed and masked', async (t) => {
  const shared = await cli(['pack', 'datastore', 'set', 'netops', 'shared_note', 'from the operator']);
  t.is(shared.code, 0, shared.stderr);
  const first = await runViaApi({ action: 'netops.remember', parameters: { key: 'last_ip', value: '10.1.2.3' } });
  t.is(first.execution.status, 'succeeded', first.execution.stderr);
  const r1 = JSON.parse(first.execution.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  t.like(r1, { before: null, shared: 'from the operator', deleted: true, scope: 'system', at: '2026-01-02T03:04:05Z', note: "from the runner's env" });
  t.deepEqual(r1.names, ['netops.Remember:last_ip'], 'list_values(local=True) lists the class prefix only');
  t.is(r1.scope_error, 'Scope user is unsupported.');
  const second = await runViaApi({ action: 'netops.remember', parameters: { key: 'last_ip', value: '10.9.9.9' } });
  t.is((JSON.parse(second.execution.stdout.trim().split('\n').pop()!) as { before: string }).before, '10.1.2.3', 'the value lasts between runs');
  const secret = await runViaApi({ action: 'netops.remember', parameters: { key: 'password', value: 's3cr3t-v4lue', encrypt: true } });
  t.is(secret.execution.status, 'succeeded', secret.execution.stderr);
  t.regex(secret.execution.stdout, /read back: \*{8}/, 'a value read with decrypt=True is masked in the output');
  t.false(secret.execution.stdout.includes('s3cr3t-v4lue'));
  const list = await cli(['pack', 'datastore', 'list', 'netops', '--json']);
  const keys = (JSON.parse(list.stdout) as { keys: { name: string; value: unknown }[] }).keys;
  t.deepEqual(
    keys.map((k) => [k.name, k.value]),
    [
      ['netops.Remember:last_ip', '10.9.9.9'],
      ['netops.Remember:password', '********'],
      ['shared_note', 'from the operator'],
    ],
  );
  const expiring = await runViaApi({ action: 'netops.remember', parameters: { key: 'lease', value: 'short', ttl: 1 } });
  t.is(expiring.execution.status, 'succeeded', expiring.execution.stderr);
  await sleep(1500);
  const after = await runViaApi({ action: 'netops.remember', parameters: { key: 'lease', value: 'again' } });
  t.is((JSON.parse(after.execution.stdout.trim().split('\n').pop()!) as { before: unknown }).before, null, 'an expired key reads as None');
  const del = await cli(['pack', 'datastore', 'delete', 'netops', 'shared_note']);
  t.is(del.code, 0, del.stderr);
  const gone = await cli(['pack', 'datastore', 'delete', 'netops', 'shared_note']);
  t.is(gone.code, 2);
  t.regex(gone.stderr, /has no datastore key "shared_note"/);
});

test.serial('local-shell-cmd: without shell syntax the cmd is argv; with it, values reach the shell as variables, never as code', async (t) => {
  const hostile = 'x"; touch /tmp/stackwire-pwned-$$; echo "';
  const greet = await runViaApi({ action: 'netops.greet', parameters: { name: hostile } });
  t.is(greet.execution.status, 'succeeded', greet.execution.stderr);
  t.is(greet.execution.stdout, `hello ${hostile}\n`);
  t.deepEqual((greet.execution as unknown as { argv: string[] }).argv, ['printf', 'hello %s\\n', hostile]);
  const shout = await runViaApi({ action: 'netops.shout', parameters: { text: 'hi $(id) `id`; ls' } });
  t.is(shout.execution.status, 'succeeded', shout.execution.stderr);
  t.is(shout.execution.stdout, 'HI $(ID) `ID`; LS\n');
  t.deepEqual((shout.execution as unknown as { argv: string[] }).argv, ['bash', '-c', 'echo "${ST2_PARAM_text}" | tr a-z A-Z']);
  t.false(fs.readdirSync('/tmp').some((f) => f.startsWith('stackwire-pwned-')));
});

interface RunView {
  status: string;
  outputs: Record<string, unknown>;
  steps: { id: string; status: string; outputs?: Record<string, unknown> }[];
}

async function runPipeline(args: string[]): Promise<{ code: number | null; view: RunView; stderr: string }> {
  const r = await cli(['pipeline', 'run', ...args, '--json']);
  try {
    return { code: r.code, view: JSON.parse(r.stdout) as RunView, stderr: r.stderr };
  } catch {
    throw new Error(`pipeline run printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

test.serial('action-chain and orquesta workflows become pipelines with the same outcomes; what cannot convert is listed with why', async (t) => {
  const r = await cli(['ingest', pack, '--no-write', '--dry-run', '--json']);
  const report = JSON.parse(r.stdout) as Report;
  t.true(report.warnings.some((w) => w.file === 'actions/provision.yaml' && /converted to the pipeline pipelines\/provision\.yml/.test(w.message)));
  const loop = report.unsupported.find((u) => u.file === 'actions/cleanup_loop.yaml')?.reason ?? '';
  t.regex(loop, /runner_type orquesta: not converted to a pipeline: task clean: with is not converted/);
  t.regex(loop, /st2kv\('system\.owner'\): only ctx\(\) and result\(\) references carry over/);
  // The success path: published values and earlier results reach later nodes.
  const ok = await runPipeline(['pack:netops', 'provision', 'address=10.0.0.5', 'owner=ann']);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(
    ok.view.steps.map((s) => [s.id, s.status]),
    [
      ['check_address', 'succeeded'],
      ['record', 'succeeded'],
      ['report_failure', 'skipped'],
      ['announce', 'succeeded'],
    ],
  );
  t.is(ok.view.steps.find((s) => s.id === 'announce')!.outputs!.stdout, 'hello 10.0.0.5 (ipv4) provisioned for ann');
  // A node that fails goes to its on-failure node; as under st2, the chain ends with that node's status.
  const handled = await runPipeline(['pack:netops', 'provision', 'address=2001:db8::2']);
  t.is(handled.code, 0, handled.stderr);
  t.is(handled.view.status, 'succeeded');
  t.deepEqual(
    handled.view.steps.map((s) => [s.id, s.status]),
    [
      ['check_address', 'failed'],
      ['record', 'skipped'],
      ['report_failure', 'succeeded'],
      ['announce', 'skipped'],
    ],
  );
  t.is(handled.view.steps.find((s) => s.id === 'report_failure')!.outputs!.stdout, 'hello failure provisioning 2001:db8::2');
  // orquesta: a transition on succeeded() with a publish, one on failed(), the workflow's output.
  const orq = await runPipeline(['pack:netops', 'audit-address', 'address=192.0.2.44']);
  t.is(orq.code, 0, orq.stderr);
  t.deepEqual(orq.view.outputs, { kind: 'ipv4' });
  t.is(orq.view.steps.find((s) => s.id === 'shout')!.outputs!.stdout, 'IPV4 ADDRESS 192.0.2.44');
  t.is(orq.view.steps.find((s) => s.id === 'complain')!.status, 'skipped');
  const orqFailed = await runPipeline(['pack:netops', 'audit-address', 'address=nowhere']);
  t.is(orqFailed.code, 0, 'a failure handled by a failed() transition does not fail the workflow');
  t.is(orqFailed.view.steps.find((s) => s.id === 'complain')!.outputs!.stdout, 'hello no luck with nowhere');
});

test.serial('remote-shell-cmd and remote-shell-script run over SSH with host keys checked, keys from the sealed pack config', async (t) => {
  const sshd = await startSshd();
  t.teardown(() => sshd.stop());
  const hosts = `127.0.0.1:${sshd.port}`;
  const before = await http<{ error: { code: string; message: string } }>('POST', '/api/v1/executions', {
    action: 'netops.whoami_remote',
    parameters: { hosts, label: 'x' },
  });
  t.is(before.status, 400, 'no key and no known hosts: refused before anything runs');
  t.regex(before.body.error.message, /ssh_private_key and ssh_known_hosts are not set/);
  const set = await cli(
    ['pack', 'config', 'netops', `ssh_username=${sshd.user}`, '--from-env', 'ssh_private_key=SSH_KEY', '--from-env', 'ssh_known_hosts=KNOWN'],
    { SSH_KEY: sshd.clientKey, KNOWN: sshd.knownHosts },
  );
  t.is(set.code, 0, set.stderr);
  t.regex(set.stdout, /ssh_private_key +string +\*{8}/);

  const label = `it's $(touch /tmp/stackwire-ssh-pwned) "quoted"`;
  const cmd = await runViaApi({ action: 'netops.whoami_remote', parameters: { hosts, label, cwd: '/tmp', env: { TEAM: 'net ops' } } });
  t.is(cmd.execution.status, 'succeeded', cmd.execution.stderr);
  const lines = cmd.execution.stdout.trim().split('\n');
  t.is(lines[0], `[${hosts}] ${label} on ${os.hostname()}`);
  t.is(lines[1], `[${hosts}] ${sshd.user}`, 'the command ran as the SSH user on the host');
  t.is(lines[2], `[${hosts}] cwd=/tmp team=net ops`);
  t.like((JSON.parse(lines[lines.length - 1]) as Record<string, object>)[hosts], { return_code: 0, succeeded: true, failed: false });
  t.false(fs.existsSync('/tmp/stackwire-ssh-pwned'), 'a value is never code for the remote shell');
  t.false(JSON.stringify(cmd.execution).includes('PRIVATE KEY'), 'the key is in no record of the run');

  const script = await runViaApi({ action: 'netops.collect_facts', parameters: { hosts, section: 'disks; rm -rf /', verbose: true, exit_code: 3 } });
  t.is(script.execution.status, 'failed');
  t.regex(
    script.execution.stdout,
    new RegExp(`\\[${hosts}\\] arg: \\[--verbose\\]\\n\\[${hosts}\\] arg: \\[--exit_code=3\\]\\n\\[${hosts}\\] arg: \\[disks; rm -rf /\\]`),
  );
  t.like((JSON.parse(script.execution.stdout.trim().split('\n').pop()!) as Record<string, object>)[hosts], { return_code: 3, succeeded: false, failed: true });

  // Another host key for that address: the connection is refused, and the run says what to do.
  t.is((await cli(['pack', 'config', 'netops', '--from-env', 'ssh_known_hosts=KNOWN'], { KNOWN: sshd.otherKnownHosts })).code, 0);
  const spoofed = await runViaApi({ action: 'netops.whoami_remote', parameters: { hosts, label: 'x' } });
  t.is(spoofed.execution.status, 'failed');
  t.regex(spoofed.execution.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  t.regex(spoofed.execution.stderr, /not in the known hosts given \(the pack's ssh_known_hosts\)/);
  t.notRegex(spoofed.execution.stdout, /stackwire-sshtest/, 'nothing ran on the host');
});

test.serial('StackStorm rules convert with stackwire rule import, then apply and fire as Stackwire rules; what cannot convert says why', async (t) => {
  const r = await cli(['ingest', pack, '--no-write', '--dry-run', '--json']);
  const reason = (JSON.parse(r.stdout) as Report).unsupported.find((u) => u.file === 'rules/on_ipam_alert.yaml')?.reason ?? '';
  t.regex(reason, /ingest does not apply rules .* stackwire rule import <pack>\/rules --out DIR/);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-st2-rules-'));
  const imported = await cli(['rule', 'import', path.join(pack, 'rules'), '--out', out]);
  t.is(imported.code, 1, 'one rule could not be converted');
  t.regex(imported.stderr, /converted .*on_ipam_alert\.yaml → .*netops\.on_ipam_alert\.yml/);
  t.regex(
    imported.stderr,
    /not converted: .*nightly_audit\.yaml \(netops\.nightly_audit\):\n {2}- trigger: core\.st2\.CronTimer is a timer: create a Stackwire schedule/,
  );
  t.regex(imported.stderr, /\{\{ trigger\.executed_at \| to_human \}\} reads more than the trigger's payload/);
  const file = path.join(out, 'netops.on_ipam_alert.yml');
  const text = fs.readFileSync(file, 'utf8');
  t.regex(text, /type: webhook\.ipam-alerts/);
  t.regex(text, /address: \$\{\{ trigger\.body\.address \}\}/);
  const payload = path.join(out, 'payload.json');
  fs.writeFileSync(payload, JSON.stringify({ body: { severity: 'critical', 'source.system': 'ipam-eu', address: '10.3.3.3', site: 'fra1' }, headers: {} }));
  const tested = await cli(['rule', 'test', file, payload]);
  t.is(tested.code, 0, tested.stdout + tested.stderr);
  t.regex(tested.stdout, /address: "10\.3\.3\.3"/);
  const applied = await cli(['rule', 'apply', out]);
  t.is(applied.code, 0, applied.stdout + applied.stderr);
  t.teardown(async () => {
    await cli(['rule', 'delete', 'netops.on_ipam_alert']);
    await cli(['webhook', 'delete', 'ipam-alerts']);
  });
  const token = 'ipam-hook-token-0123456789';
  const hook = await cli(['webhook', 'create', 'ipam-alerts', '--auth', 'token', '--secret-env', 'HOOK_TOKEN', '--json'], { HOOK_TOKEN: token });
  t.is(hook.code, 0, hook.stderr);
  const res = await fetch(`${API}/api/v1/webhooks/ipam-alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ severity: 'critical', 'source.system': 'ipam-eu', address: '10.3.3.3', site: 'fra1' }),
  });
  const delivered = (await res.json()) as { runs: { workflowId: string }[] };
  t.is(res.status, 202, JSON.stringify(delivered));
  t.is(delivered.runs.length, 1, 'the converted rule fired');
  const run = await waitForEnd(delivered.runs[0].workflowId);
  t.is(run.status, 'succeeded', run.stderr);
  t.like(JSON.parse(run.stdout.trim().split('\n').pop()!) as object, { address: '10.3.3.3', kind: 'ipv4', tags: ['fra1'] });
});

test.serial('a StackStorm sensor runs as a script sensor with its config and datastore; its rules convert with --sensor and fire', async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-st2-sensor-rules-'));
  const imported = await cli(['rule', 'import', path.join(pack, 'rules'), '--out', out, '--sensor', 'netops.address_seen=addrwatch']);
  t.is(imported.code, 1, 'the timer rule still cannot convert');
  const text = fs.readFileSync(path.join(out, 'netops.on_address_seen.yml'), 'utf8');
  t.regex(text, /type: sensor\.addrwatch/);
  t.regex(text, /trigger\.payload\.n:\n\s+type: equals\n\s+pattern: 2/);
  t.regex(text, /trigger\.trigger:\n\s+type: equals\n\s+pattern: netops\.address_seen/);
  t.regex(text, /name: address \$\{\{ trigger\.payload\.address \}\}/);
  const applied = await cli(['rule', 'apply', out]);
  t.is(applied.code, 0, applied.stdout + applied.stderr);
  t.teardown(async () => {
    await http('DELETE', '/api/v1/sensors/addrwatch');
    await cli(['rule', 'delete', 'netops.on_address_seen']);
  });
  const created = await cli(['sensor', 'create', 'addrwatch', '--kind', 'script', '--action', 'netops.sensor_address_watch', '--param', 'poll_interval=1']);
  t.is(created.code, 0, created.stderr);
  const greeted = await eventually(async () => {
    const r = await http<{ executions: { parameters: Record<string, unknown>; actor: string }[] }>('GET', '/api/v1/executions?action=netops.greet&limit=100');
    return r.body.executions.find((e) => e.parameters.name === 'address 10.7.7.2');
  }, 'the converted rule to run netops.greet for the second address');
  t.is(greeted.actor, 'rule:netops.on_address_seen');
  const first = (await http<{ executions: { parameters: Record<string, unknown> }[] }>('GET', '/api/v1/executions?action=netops.greet&limit=100')).body;
  t.false(
    first.executions.some((e) => e.parameters.name === 'address 10.7.7.1'),
    'the first address does not meet the criteria',
  );
  const ds = await cli(['pack', 'datastore', 'list', 'netops', '--prefix', 'netops.AddressWatchSensor:', '--json']);
  t.deepEqual(
    (JSON.parse(ds.stdout) as { keys: { name: string; value: unknown }[] }).keys.map((k) => [k.name, k.value]),
    [['netops.AddressWatchSensor:emitted', '2']],
    "the sensor's own datastore key",
  );
});

test.serial('pack remove: the pack and its actions are marked removed, runs and history kept; ingesting again brings it back', async (t) => {
  const past = await runViaApi({ action: 'netops.greet', parameters: { name: 'before removal' } });
  const refused = await cli(['pack', 'remove', 'netops']);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /add --yes to confirm/);
  const r = await cli(['pack', 'remove', 'netops', '--yes', '--json']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual((JSON.parse(r.stdout) as { actions: string[] }).actions, [
    'netops.collect_facts',
    'netops.greet',
    'netops.is_valid_ip',
    'netops.remember',
    'netops.sensor_address_watch',
    'netops.shout',
    'netops.whoami_remote',
  ]);
  const packs = (await http<{ packs: { name: string }[] }>('GET', '/api/v1/packs')).body.packs;
  t.false(
    packs.some((p) => p.name === 'netops'),
    'a removed pack is not listed',
  );
  const run = await http<{ error: { code: string } }>('POST', '/api/v1/executions', { action: 'netops.greet', parameters: { name: 'x' } });
  t.is(run.status, 404, 'its actions no longer run');
  t.is((await waitForEnd(past.id)).status, 'succeeded', 'its runs are kept');
  const again = await cli(['pack', 'remove', 'netops', '--yes']);
  t.is(again.code, 2);
  t.regex(again.stderr, /no pack "netops" to remove/);
  const back = await cli(['ingest', pack, '--no-write', '--json']);
  t.is(back.code, 0, back.stderr);
  const rerun = await runViaApi({ action: 'netops.greet', parameters: { name: 'back' } });
  t.is(rerun.execution.stdout, 'hello back\n');
});
