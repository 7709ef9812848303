/**
 * Pipeline runs through the public surfaces: `stackwire pipeline run` with a sub-pipeline from the
 * same folder and typed inputs, a broken file refused with line and column before anything starts,
 * an approval decided through the API (four eyes), a re-run from a middle step that reuses the
 * recorded outputs of the step before it, list/get, and `pipeline watch` riding out a region whose
 * worker does not answer.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import test from 'ava';
import type { PipelineRunView, PipelineRunStartResponse } from '../common/api-types.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { CLI_ENTRY, NODE } from '../lib/paths.js';
import { regionTaskQueue } from '../common/constants.js';
import { pipelineRun } from '../workflows/index.js';
import {
  ADMIN_KEY,
  API,
  as,
  cli,
  cliStarted,
  dbPool,
  eventually,
  http,
  makeKey,
  pipelineRunEnded,
  regionWorker,
  temporalClient,
  uniqueName,
} from './helpers.js';
import { pipelineRequest } from './pipeline-request.js';

const pool = dbPool();
test.after.always(() => pool.end());

function folder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-pipelines-'));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

const MAIN = `
name: ship
inputs:
  version: {type: string, required: true}
  regions: {type: list, default: [us-east, eu-west]}
steps:
  - id: build
    action: testkit.quick
    with: {value: "build-\${{ inputs.version }}"}
  - id: everywhere
    action: testkit.echo_args
    needs: [build]
    regions: \${{ inputs.regions }}
    with: {message: "\${{ steps.build.outputs.value }}"}
  - id: notes
    needs: [build]
    pipeline: notes
    with: {version: "\${{ inputs.version }}"}
outputs:
  artifact: \${{ steps.build.outputs.value }}
  notes: \${{ steps.notes.outputs.text }}
  west: \${{ steps.everywhere.outputs.eu-west.region }}
`;
const NOTES = `
name: notes
inputs:
  version: {type: string, required: true}
steps:
  - id: write
    action: testkit.quick
    with: {value: "release notes for \${{ inputs.version }}"}
outputs:
  text: \${{ steps.write.outputs.value }}
`;

test('stackwire pipeline run validates, starts and follows a pipeline with a sub-pipeline from its folder, typed inputs and outputs', async (t) => {
  const dir = folder({ 'ship.yml': MAIN, 'notes.yml': NOTES });
  const r = await cli(['pipeline', 'run', path.join(dir, 'ship.yml'), 'version=2.4.0', '--json']);
  t.is(r.code, 0, r.stderr + r.stdout);
  const v = JSON.parse(r.stdout) as PipelineRunView;
  t.is(v.status, 'succeeded');
  t.deepEqual(v.outputs, { artifact: 'build-2.4.0', notes: 'release notes for 2.4.0', west: 'eu-west' });
  t.deepEqual(
    v.steps.map((s) => [s.id, s.status]),
    [
      ['build', 'succeeded'],
      ['everywhere', 'succeeded'],
      ['notes', 'succeeded'],
    ],
  );
  t.deepEqual(v.steps.find((s) => s.id === 'everywhere')!.executions, [`${v.runId}.everywhere.us-east`, `${v.runId}.everywhere.eu-west`]);
  for (const s of v.steps) t.true(Date.parse(s.finishedAt!) >= Date.parse(s.startedAt!), 'timings');

  // Human output: one line per step, then the outcome; a missing required input is refused before anything runs.
  const human = await cli(['pipeline', 'run', path.join(dir, 'ship.yml'), 'version=2.4.1']);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /✓ build succeeded/);
  t.regex(human.stdout, /^ {2}build \| \{"value": "build-2\.4\.1"\}$/m, "the steps' output, as it comes");
  t.regex(human.stdout, /^ {2}everywhere@eu-west \| /m, 'per region');
  t.regex(human.stdout, /pipeline ship succeeded: pipeline\.ship\./);
  const missing = await cli(['pipeline', 'run', path.join(dir, 'ship.yml')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /version.*required/);

  const list = await cli(['pipeline', 'list', '--pipeline', 'ship', '--json']);
  t.is(list.code, 0, list.stderr);
  const runs = (JSON.parse(list.stdout) as { runs: { id: string; status: string }[] }).runs;
  t.true(runs.some((x) => x.id === v.runId && x.status === 'completed'));
  t.false(
    runs.some((x) => x.id.startsWith(`${v.runId}.`)),
    'sub-pipelines are not listed as runs of their own',
  );
});

test('a broken pipeline file is refused with every problem at its line and column, and nothing starts', async (t) => {
  const dir = folder({
    'broken.yml': `name: broken
steps:
  - id: a
    action: testkit.nope
  - id: b
    action: testkit.quick
    needs: [zzz]
`,
  });
  const r = await cli(['pipeline', 'run', path.join(dir, 'broken.yml')]);
  t.is(r.code, 2, r.stdout);
  t.regex(r.stderr, /broken\.yml:4:13: .*testkit\.nope/);
  t.regex(r.stderr, /broken\.yml:7:\d+: .*zzz/);
  t.regex(r.stderr, /nothing was started/);
  const list = await http<{ runs: unknown[] }>('GET', '/api/v1/pipelines/runs?pipeline=broken');
  t.deepEqual(list.body.runs, []);
});

test('an approval step is decided through the API: not by the one who started the run, then by another operator', async (t) => {
  const requester = await makeKey({ name: uniqueName('pl-req'), role: 'operator' });
  const approverName = uniqueName('pl-ok');
  const approver = await makeKey({ name: approverName, role: 'operator' });
  const viewer = await makeKey({ name: uniqueName('pl-view'), role: 'viewer' });
  const started = await http<PipelineRunStartResponse>(
    'POST',
    '/api/v1/pipelines/runs',
    {
      files: [
        {
          path: 'gated.yml',
          content: `name: gated
steps:
  - id: gate
    approval: {deadline: 10m, message: "go?"}
  - id: after
    needs: [gate]
    action: testkit.quick
    with: {value: "approved by \${{ steps.gate.outputs.approved_by }}"}
`,
        },
      ],
    },
    as(requester.key),
  );
  t.is(started.status, 202, JSON.stringify(started.body));
  const id = started.body.id;
  await eventually(
    async () => ((await http<PipelineRunView>('GET', `/api/v1/pipelines/runs/${id}`)).body.waiting?.length ? true : undefined),
    'the gate to wait',
    120_000,
    500,
  );
  const decide = (key: string) =>
    http<{ error?: { message: string } }>('POST', `/api/v1/pipelines/runs/${id}/decide`, { step: 'gate', approve: true }, as(key));
  const own = await decide(requester.key);
  t.is(own.status, 409);
  t.regex(own.body.error?.message ?? '', /started this run and cannot decide its own approval step/);
  t.is((await decide(viewer.key)).status, 403, 'a viewer cannot decide');
  const ok = await decide(approver.key);
  t.is(ok.status, 200, JSON.stringify(ok.body));
  const done = await pipelineRunEnded(id);
  t.is(done.status, 'succeeded');
  t.is(done.steps[0].decidedBy, approverName);
  t.is(done.steps[1].outputs.value, `approved by ${approverName}`);
});

test('a re-run from a middle step reuses the recorded outputs of the steps before it and runs the rest again', async (t) => {
  const dir = folder({
    'chain.yml': `name: chain
steps:
  - id: first
    action: testkit.echo_args
    with: {message: one}
  - id: second
    action: testkit.quick
    needs: [first]
    with: {value: "after \${{ steps.first.outputs.execution }}"}
  - id: third
    action: testkit.echo_args
    needs: [second]
    with: {message: three}
`,
  });
  const r = await cli(['pipeline', 'run', path.join(dir, 'chain.yml'), '--json']);
  t.is(r.code, 0, r.stderr);
  const v1 = JSON.parse(r.stdout) as PipelineRunView;
  const again = await cli(['pipeline', 'rerun', v1.runId, '--from', 'second', '--json']);
  t.is(again.code, 0, again.stderr);
  const v2 = JSON.parse(again.stdout) as PipelineRunView;
  t.not(v2.runId, v1.runId);
  const s = (v: PipelineRunView, id: string) => v.steps.find((x) => x.id === id)!;
  t.is(s(v2, 'first').status, 'reused');
  t.deepEqual(s(v2, 'first').outputs, s(v1, 'first').outputs, 'the recorded outputs, not a new run');
  t.is(s(v2, 'second').outputs.value, `after ${v1.runId}.first`, 'the re-run step sees the reused outputs');
  t.is(s(v2, 'third').status, 'succeeded');
  t.is(s(v2, 'third').outputs.execution, `${v2.runId}.third`, 'the steps after it ran again');
  const unknown = await cli(['pipeline', 'rerun', v1.runId, '--from', 'nope']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /has no step "nope"; its steps: first, second, third/);
});

test('the example pipelines are valid against the catalog, and the nightly maintenance example runs: a fan-out, two regions, a sub-pipeline', async (t) => {
  const examples = path.join(PROJECT_ROOT, 'examples', 'pipelines');
  const v = await cli(['pipeline', 'validate', examples]);
  t.is(v.code, 0, v.stdout + v.stderr);
  t.regex(v.stdout, /3 pipeline files valid/);
  const port = new URL(API).port;
  const r = await cli(['pipeline', 'run', path.join(examples, 'nightly-maintenance.yml'), 'hosts=["127.0.0.1","localhost"]', `port=${port}`, '--json']);
  t.is(r.code, 0, r.stderr + r.stdout);
  const run = JSON.parse(r.stdout) as PipelineRunView;
  t.is(run.status, 'succeeded');
  t.deepEqual(run.steps.find((s) => s.id === 'services')!.items, { total: 2, succeeded: 2, failed: 0 });
  t.deepEqual(Object.keys(run.steps.find((s) => s.id === 'disks')!.outputs).sort(), ['eu-west', 'us-east']);
  t.regex(String(run.outputs.report), /^2 hosts checked; disk \d+(\.\d+)?% used$/);
});

test("a finished run's view: succeeded with its steps; failed with every step's status and the failing step's error", async (t) => {
  const start = async (name: string, steps: string) => {
    const r = await http<PipelineRunStartResponse>('POST', '/api/v1/pipelines/runs', {
      files: [{ path: `${name}.yml`, content: `name: ${name}\nsteps:\n${steps}` }],
    });
    t.is(r.status, 202, JSON.stringify(r.body));
    return r.body.id;
  };
  const ok = await start('closes-ok', '  - id: one\n    action: testkit.quick\n    with: {value: fine}\n');
  const bad = await start(
    'closes-failed',
    '  - id: first\n    action: testkit.quick\n    with: {value: fine}\n  - id: broken\n    needs: [first]\n    action: testkit.fail\n    with: {code: 3}\n    retry: {attempts: 1}\n',
  );
  const good = await pipelineRunEnded(ok);
  t.like(good, { status: 'succeeded', workflowStatus: 'completed' });
  t.like(good.steps[0], { id: 'one', status: 'succeeded' });
  const failed = await pipelineRunEnded(bad);
  t.like(failed, { status: 'failed', workflowStatus: 'failed' });
  t.deepEqual(
    failed.steps.map((s) => [s.id, s.status]),
    [
      ['first', 'succeeded'],
      ['broken', 'failed'],
    ],
  );
  t.regex(failed.error ?? '', /broken: .*exit code 3/);
});

test('a secret given to a run is sealed before it is kept, opened only by the worker running the script, and masked in its output', async (t) => {
  const secret = `s3cr3t-${Math.random().toString(36).slice(2, 10)}`;
  const started = await http<PipelineRunStartResponse>('POST', '/api/v1/pipelines/runs', {
    files: [
      {
        path: 'secretive.yml',
        content: `name: secretive
steps:
  - id: use
    action: testkit.echo_args
    with: {message: hello, label: "\${{ secrets.API_TOKEN }}"}
`,
      },
    ],
    secrets: { API_TOKEN: secret },
  });
  t.is(started.status, 202, JSON.stringify(started.body));
  const id = started.body.id;
  const done = await pipelineRunEnded(id);
  t.is(done.status, 'succeeded', done.error);
  const argv = done.steps[0].outputs.argv as string[];
  t.true(argv.includes('--label'), 'the script got the label');
  t.false(JSON.stringify(done).includes(secret), 'not in the run state');
  const exec = await http<{ stdout: string; parameters: Record<string, unknown> }>('GET', `/api/v1/executions/${id}.use`);
  t.is(exec.status, 200);
  t.false(JSON.stringify(exec.body).includes(secret), 'not in the execution record or its output');
  t.regex(exec.body.stdout, /\*{8}/, 'masked in the output');
  // A secret inside a larger string is refused before anything runs.
  const bad = await http<{ error: { message: string } }>('POST', '/api/v1/pipelines/runs', {
    files: [
      {
        path: 'leaky.yml',
        content: 'name: leaky\nsteps:\n  - id: use\n    action: testkit.echo_args\n    with: {message: "token=${{ secrets.API_TOKEN }}"}\n',
      },
    ],
    secrets: { API_TOKEN: secret },
  });
  t.is(bad.status, 400);
  t.regex(bad.body.error.message, /leaky\.yml:5:\d+: .*a secret can only be a whole value/);
});

test("a pack's pipelines run as its current version holds them", async (t) => {
  const r = await cli(['pipeline', 'run', 'pack:testkit', 'smoke', 'value=packed', '--json']);
  t.is(r.code, 0, r.stderr + r.stdout);
  const v = JSON.parse(r.stdout) as PipelineRunView;
  t.is(v.status, 'succeeded');
  t.deepEqual(v.outputs, { value: 'packed from the pack' });
  const none = await cli(['pipeline', 'run', 'pack:ops', 'nope']);
  t.is(none.code, 2);
  t.regex(none.stderr, /pack ops holds no pipeline files/);
  const scoped = await makeKey({ name: uniqueName('pl-scoped'), role: 'operator', scopes: { packs: ['ops'] } });
  const denied = await cli(['pipeline', 'run', 'pack:testkit', 'smoke'], { STACKWIRE_API_KEY: scoped.key });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /scoped to pack\(s\) ops/);
});

test("a run whose region has no worker answers 503 with what to check when its live state is asked (Temporal's query times out), not 500", async (t) => {
  // A pipelineRun on a queue nobody polls: it exists and runs, but no worker can answer its state query.
  const id = uniqueName('pipeline-no-worker');
  const handle = await (await temporalClient()).workflow.start('pipelineRun', { taskQueue: `stackwire.${id}`, workflowId: id, args: [{}] });
  try {
    const res = await fetch(`${API}/api/v1/pipelines/runs/${id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const body = (await res.json()) as { error: { code: string; message: string } };
    t.is(res.status, 503, JSON.stringify(body));
    t.is(res.headers.get('retry-after'), '10');
    t.is(body.error.code, 'temporal_timeout');
    t.regex(body.error.message, /check that the region's workers are running, then try again/);
  } finally {
    await handle.terminate('test cleanup');
  }
});

test('pipeline watch follows a run started elsewhere: while no worker of its region answers it says so and asks again, then follows the run to its end', async (t) => {
  // A run on a region of its own, started through the Temporal client (as a schedule or another
  // operator would start it): no worker yet, so its state query times out (503) until one starts.
  const region = `watch-${crypto.randomBytes(3).toString('hex')}`;
  const req = await pipelineRequest(pool, 'name: watched\nsteps:\n  - id: one\n    action: testkit.quick\n    with: {value: seen}\n', {
    defaultRegion: region,
    regions: [region],
  });
  const client = await temporalClient();
  const handle = await client.workflow.start(pipelineRun, { taskQueue: regionTaskQueue(region), workflowId: req.runId, args: [req] });
  const watch = cliStarted(['pipeline', 'watch', req.runId, '--json']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-watch-'));
  let worker: Awaited<ReturnType<typeof regionWorker>> | undefined;
  try {
    await eventually(() => (watch.sofar().stderr.includes('did not come in time') ? true : undefined), 'watch to say it got no answer', 180_000, 500);
    t.is(watch.sofar().code, null, `it goes on asking: ${watch.sofar().stderr}`);
    t.regex(watch.sofar().stderr, new RegExp(`${req.runId}: its state did not come in time \\(Temporal did not answer in time\\. .*\\); asking again`));
    worker = await regionWorker(region, dir, 'watch-worker');
    const r = await watch.done;
    t.is(r.code, 0, r.stderr + r.stdout);
    const v = JSON.parse(r.stdout) as PipelineRunView;
    t.like(v, { runId: req.runId, status: 'succeeded', workflowStatus: 'completed' });
    t.deepEqual(
      v.steps.map((x) => [x.id, x.status]),
      [['one', 'succeeded']],
    );
    t.regex(r.stderr, new RegExp(`${req.runId}: answered again after \\d+ s`));
    // A run already ended is printed at once; one that does not exist is a clear error.
    const again = await cli(['pipeline', 'watch', req.runId]);
    t.is(again.code, 0, again.stderr);
    t.regex(again.stdout, new RegExp(`pipeline watched succeeded: ${req.runId.replace(/\./g, '\\.')}`));
    const none = await cli(['pipeline', 'watch', 'pipeline.nope.0000']);
    t.is(none.code, 2, 'a run that does not exist: exit 2, as for every unknown name');
    t.regex(none.stderr, /no pipeline run "pipeline\.nope\.0000"/);
  } finally {
    watch.kill();
    await worker?.stop(2000);
    await handle.terminate('test cleanup').catch(() => undefined);
  }
});

/** A fan-out of gated items: each item's script waits for the file go-<item> in `gates` (the test opens them one by one). */
function gatedFanOut(name: string, items: string[]): { file: string; open: (item: string) => void } {
  const gates = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-gates-'));
  fs.chmodSync(gates, 0o755); // read by the run user
  const dir = folder({
    [`${name}.yml`]: `name: ${name}
steps:
  - id: each
    action: testkit.gated
    for_each: ${JSON.stringify(items)}
    concurrency: ${items.length}
    with: {gate: "${gates}/go-\${{ item }}", lines: 0}
`,
  });
  return { file: path.join(dir, `${name}.yml`), open: (item) => fs.writeFileSync(path.join(gates, `go-${item}`), '') };
}

test("a running for_each step shows its items as they are done: the API's view has the counts so far; the CLI says each tenth more (without a terminal)", async (t) => {
  const fan = gatedFanOut('fanned', ['a', 'b', 'c', 'd']);
  const run = cliStarted(['pipeline', 'run', fan.file]);
  try {
    const printed = (what: string) => eventually(() => (run.sofar().stdout.includes(what) ? true : undefined), what, 120_000, 200);
    await printed('▶ each running [0/4 items]');
    const id = /started (\S+):/.exec(run.sofar().stdout)![1];
    // The view's counts (undefined when the API answers 503: the run's worker busy past the query's deadline).
    const items = async () => (await http<PipelineRunView>('GET', `/api/v1/pipelines/runs/${id}`)).body.steps?.[0]?.items;
    t.deepEqual(await eventually(items, 'the view', 60_000, 500), { total: 4, succeeded: 0, failed: 0 });
    fan.open('a');
    await printed('▶ each running [1/4 items]');
    // Asked of the fan-out while it runs (a loaded machine's worker may miss the 3 s it is given: asked again).
    t.deepEqual(
      await eventually(
        async () => {
          const counts = await items();
          return counts?.succeeded === 1 ? counts : undefined;
        },
        'the API to count the first item',
        60_000,
        500,
      ),
      {
        total: 4,
        succeeded: 1,
        failed: 0,
      },
    );
    fan.open('b');
    await printed('▶ each running [2/4 items]');
    fan.open('c');
    await printed('▶ each running [3/4 items]');
    fan.open('d');
    const r = await run.done;
    t.is(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.split('\n').filter((l) => /^. each /.test(l));
    t.deepEqual(
      lines.map((l) => l.replace(/ \(\d+(\.\d+)? m?s\)$/, '')),
      ['▶ each running [0/4 items]', '▶ each running [1/4 items]', '▶ each running [2/4 items]', '▶ each running [3/4 items]', '✓ each succeeded [4/4 items]'],
    );
  } finally {
    run.kill();
  }
});

test('on a terminal, a running for_each step is a progress bar on the last line, cleared when the step ends', async (t) => {
  const fan = gatedFanOut('barred', ['a', 'b']);
  // A pseudo-terminal for the CLI's stdout and stderr (Python's pty module; argv, no shell).
  const child = spawn(
    'python3',
    ['-c', 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))', NODE, CLI_ENTRY, 'pipeline', 'run', fan.file],
    {
      env: { ...process.env, STACKWIRE_API_URL: API },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let screen = '';
  child.stdout.on('data', (b: Buffer) => (screen += b.toString()));
  const code = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await eventually(() => (screen.includes('0/2 items') ? true : undefined), 'the bar', 120_000, 200);
    t.regex(screen, /\r\x1b\[Keach \[-{30}\] 0% 0\/2 items/, 'the bar of the running step');
    fan.open('a');
    await eventually(() => (/each \[#{15}-{15}\] 50% 1\/2 items/.test(screen) ? true : undefined), 'the bar at half', 120_000, 200);
    fan.open('b');
    t.is(await code, 0, screen);
    t.regex(screen, /\r\x1b\[K✓ each succeeded \[2\/2 items\]/, 'the bar cleared, then the step line');
    t.notRegex(screen, /▶ each running \[1\/2 items\]/, 'no tenth lines on a terminal: the bar says it');
  } finally {
    child.kill('SIGKILL');
  }
});
