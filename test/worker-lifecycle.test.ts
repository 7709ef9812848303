/**
 * Worker processes as an operator runs them: SIGTERM drains (a running script finishes within the
 * grace time; one that does not is stopped and its run is lost), a worker killed or frozen mid-run
 * leaves no orphan and no dishonest outcome, and recorded workflow histories still replay against
 * today's workflow code.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { ACTION_HEARTBEAT_TIMEOUT_SECONDS, regionTaskQueue } from '../common/constants.js';
import type { ActionExecutionInput, ActionSpec } from '../common/types.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { WORKFLOW_BUNDLE } from '../lib/paths.js';
import { actionExecution } from '../workflows/index.js';
import { stackwireDataConverter } from '../lib/temporal-client.js';
import { alive, as, cli, config, gone, eventually, http, makeKey, regionWorker, temporalClient } from './helpers.js';

// The replay worker's state changes are not news here.
Runtime.install({ logger: new DefaultLogger('WARN') });

test('SIGTERM lets a running script finish within the grace time, then the worker exits', async (t) => {
  // Workers of its own, for a region only they serve, so no other worker can take the work.
  const region = `drain-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-drain-'));
  fs.chmodSync(dir, 0o777); // the script (run as the run user) writes its pids here
  const start = (name: string) => regionWorker(region, dir, name, { STACKWIRE_SHUTDOWN_GRACE: '30' });
  const first = await start('first');
  let second: Awaited<ReturnType<typeof start>> | undefined;
  try {
    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.sleep')).body;
    const pidfile = path.join(dir, 'pids');
    const id = `drain-test-${region}`;
    const input: ActionExecutionInput = { executionId: id, action, parameters: { pidfile, seconds: 3 }, region, actor: 'test', trigger: 'test' };
    const client = await temporalClient();
    const handle = await client.workflow.start(actionExecution, { taskQueue: regionTaskQueue(region), workflowId: id, args: [input] });
    await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the script to start');
    const [pid] = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
    t.true(alive(pid), 'the script is still running when the worker is told to stop');
    first.child.kill('SIGTERM');
    t.is(await first.exited, 0);
    t.false(alive(pid), 'the worker waited for the script before it exited');
    // The activity's result was reported before the worker left; the next worker of the region
    // carries the workflow on from there without running the script again.
    second = await start('second');
    const result = (await handle.result()) as { status: string; exitCode: number; worker: string };
    t.is(result.status, 'succeeded');
    t.is(result.exitCode, 0);
    const e = (await http<{ attempt: number; worker: string }>('GET', `/api/v1/executions/${id}`)).body;
    t.is(e.attempt, 1, 'the script ran once');
    t.is(e.worker, result.worker);
    t.true(e.worker.includes(`/${first.child.pid}`), 'the draining worker ran it');
  } finally {
    await first.stop(2000);
    await second?.stop(2000);
  }
});

/**
 * Kills a worker's spawner while a script it started runs. With `holdMs` the spawner is made to die
 * before it has told the worker the script's pid (a window a loaded machine opens by itself, the script
 * running while the spawner waits to be scheduled; the worker must find the script by its lifeline marker).
 * With `frozen`, the spawner is stopped (SIGSTOP) instead, and the worker's watchdog must kill it.
 */
async function spawnerDies(t: ExecutionContext, o: { holdMs?: number; frozen?: boolean } = {}): Promise<void> {
  const { holdMs } = o;
  const region = `spawner-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-spawner-'));
  fs.chmodSync(dir, 0o777); // the script (run as the run user) writes its pids here
  const worker = await regionWorker(region, dir, 'worker', {
    ...(holdMs ? { STACKWIRE_TEST_SPAWNER_HOLD_PID_MS: String(holdMs) } : {}),
    ...(o.frozen ? { STACKWIRE_SPAWNER_SILENCE_SECONDS: '3' } : {}),
  });
  const spawners = () =>
    spawnSync('pgrep', ['-P', String(worker.child.pid), '-f', 'spawner-process.js'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
  let last: number | undefined;
  try {
    const [first] = spawners();
    t.truthy(first, 'the worker forked its spawner at start');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${first}/status`, 'utf8'))?.[1]);
    t.true(rss < 80 * 1024, `the spawner stays small: ${rss} kB`);
    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.sleep')).body;
    const client = await temporalClient();
    const run = async (id: string, pidfile: string, seconds: number) =>
      client.workflow.start(actionExecution, {
        taskQueue: regionTaskQueue(region),
        workflowId: id,
        args: [{ executionId: id, action, parameters: { pidfile, seconds }, region, actor: 'test', trigger: 'test' } satisfies ActionExecutionInput],
      });
    const pidfile = path.join(dir, 'pids');
    const id = `spawner-test-${region}`;
    const handle = await run(id, pidfile, 300);
    await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the script to start');
    const pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
    t.true(pids.every(alive));
    process.kill(first, o.frozen ? 'SIGSTOP' : 'SIGKILL');
    await gone(pids, 'the script and its child to die with the spawner', o.frozen ? 30_000 : 10_000);
    // The worker's lines reach its log file through a pipe and this process: read until they are there.
    const logSays = (re: RegExp, what: string) =>
      eventually(() => (re.test(fs.readFileSync(path.join(dir, 'worker.log'), 'utf8')) ? true : undefined), what, 30_000, 200);
    if (o.frozen) {
      await gone([first], 'the frozen spawner to be killed by its worker', 5000);
      await logSays(
        new RegExp(
          `the spawner process \\(pid ${first}\\) has not answered for \\d+ s while it holds \\d+ process\\(es\\) it started \\(frozen or stopped\\): it is killed, and they with it`,
        ),
        "the worker's log to say it killed the frozen spawner",
      );
    }
    // The run fails (the action has one attempt), saying why.
    const failed = await t.throwsAsync(handle.result());
    t.regex(String((failed as { cause?: Error }).cause?.message), /killed by SIGKILL: the worker's spawner process died while it ran/);
    const e = (await http<{ status: string; error: string }>('GET', `/api/v1/executions/${id}`)).body;
    t.is(e.status, 'failed');
    t.regex(e.error, /killed by SIGKILL: the worker's spawner process died while it ran/);
    await logSays(/the spawner process ended/, "the worker's log to say the spawner ended");
    if (holdMs) return;
    // The next run starts a new spawner and succeeds.
    const next = await run(`${id}-next`, path.join(dir, 'pids-next'), 0);
    t.like(await next.result(), { status: 'succeeded', exitCode: 0 });
    const now = spawners();
    t.is(now.length, 1);
    t.not(now[0], first, 'a new spawner');
    last = now[0];
  } finally {
    await worker.stop(2000);
  }
  if (last !== undefined) await gone([last], 'the spawner to end with its worker', 5000);
}

test("a worker's spawner that dies takes its running scripts with it (killed, said so in the record); the next run gets a new spawner", async (t) => {
  await spawnerDies(t);
});

test("a spawner that dies before it told the worker a script's pid: the worker finds the script by its lifeline marker and kills it", async (t) => {
  await spawnerDies(t, { holdMs: 30_000 });
});

test('a frozen spawner (stopped, silent for STACKWIRE_SPAWNER_SILENCE_SECONDS) is killed by its worker, and its scripts with it: the run ends instead of waiting for ever; the next run gets a new spawner', async (t) => {
  await spawnerDies(t, { frozen: true });
});

test("with STACKWIRE_SPAWNER=off (npm start's shared layout) a worker forks its scripts itself: no spawner, the run succeeds", async (t) => {
  const region = `nospawner-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-nospawner-'));
  fs.chmodSync(dir, 0o777);
  const worker = await regionWorker(region, dir, 'worker', { STACKWIRE_SPAWNER: 'off' });
  try {
    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.sleep')).body;
    const id = `nospawner-test-${region}`;
    const handle = await (
      await temporalClient()
    ).workflow.start(actionExecution, {
      taskQueue: regionTaskQueue(region),
      workflowId: id,
      args: [
        {
          executionId: id,
          action,
          parameters: { pidfile: path.join(dir, 'pids'), seconds: 0 },
          region,
          actor: 'test',
          trigger: 'test',
        } satisfies ActionExecutionInput,
      ],
    });
    t.like(await handle.result(), { status: 'succeeded', exitCode: 0 });
    const children = spawnSync('pgrep', ['-P', String(worker.child.pid), '-f', 'spawner-process.js'], { encoding: 'utf8' }).stdout.trim();
    t.is(children, '', 'no spawner');
  } finally {
    await worker.stop(2000);
  }
});

/** The execution record once the workflow has marked the run lost (its worker gone). */
async function untilLost(id: string): Promise<{ status: string; error: string | null; attempt: number }> {
  return eventually(
    async () => {
      const e = (await http<{ status: string; error: string | null; attempt: number }>('GET', `/api/v1/executions/${id}`)).body;
      return e.status === 'lost' ? e : undefined;
    },
    'the run to be lost',
    90_000,
  );
}

test('a script still running at the end of the grace time is stopped, and its run is lost (not failed, not cancelled) until an operator decides', async (t) => {
  const region = `drain-late-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-drain-late-'));
  fs.chmodSync(dir, 0o777);
  const start = (name: string) => regionWorker(region, dir, name, { STACKWIRE_SHUTDOWN_GRACE: '2' });
  const first = await start('first');
  let second: Awaited<ReturnType<typeof start>> | undefined;
  let pids: number[] = [];
  try {
    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.sleep')).body;
    const pidfile = path.join(dir, 'pids');
    const id = `drain-late-test-${region}`;
    const input: ActionExecutionInput = { executionId: id, action, parameters: { pidfile, seconds: 300 }, region, actor: 'test', trigger: 'test' };
    const handle = await (await temporalClient()).workflow.start(actionExecution, { taskQueue: regionTaskQueue(region), workflowId: id, args: [input] });
    await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the script to start', 120_000);
    pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
    first.child.kill('SIGTERM');
    t.is(await first.exited, 0, 'the worker exits cleanly after its grace time');
    t.false(pids.some(alive), 'the script was stopped before the worker left: no orphan');
    // The run's workflow goes on on the next worker of the region.
    second = await start('second');
    const lost = await untilLost(id);
    t.regex(
      lost.error ?? '',
      /^worker lost during attempt 1 \(attempt 1 stopped: its worker shut down before the script ended; its process group was killed\); the script may or may not have done its work/,
    );
    const r = await cli(['execution', 'resolve', id, 'failed', '--reason', 'stopped by a drain', '--json']);
    t.is(r.code, 0, r.stderr);
    await t.throwsAsync(handle.result());
  } finally {
    await first.stop(2000);
    await second?.stop(2000);
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
  }
});

test("a worker whose script's end never comes (its spawner frozen) still exits 30 s after the grace time: the script killed, no spawner left, the run lost", async (t) => {
  const region = `force-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-force-'));
  fs.chmodSync(dir, 0o777);
  const start = (name: string) => regionWorker(region, dir, name, { STACKWIRE_SHUTDOWN_GRACE: '1' });
  const first = await start('first');
  let second: Awaited<ReturnType<typeof start>> | undefined;
  let pids: number[] = [];
  const [spawner] = spawnSync('pgrep', ['-P', String(first.child.pid), '-f', 'spawner-process.js'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  try {
    t.truthy(spawner, 'the worker forked its spawner');
    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.sleep')).body;
    const pidfile = path.join(dir, 'pids');
    const id = `force-test-${region}`;
    const input: ActionExecutionInput = { executionId: id, action, parameters: { pidfile, seconds: 300 }, region, actor: 'test', trigger: 'test' };
    await (await temporalClient()).workflow.start(actionExecution, { taskQueue: regionTaskQueue(region), workflowId: id, args: [input] });
    await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the script to start', 120_000);
    pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
    // Frozen, the spawner can tell the worker nothing more: not the script's exit once the worker kills it.
    process.kill(spawner, 'SIGSTOP');
    first.child.kill('SIGTERM');
    t.not(await first.exited, 0, 'a forced shutdown is not a clean exit');
    t.regex(fs.readFileSync(path.join(dir, 'first.log'), 'utf8'), /activities were still running 30 s after the grace time: the worker exits without them/);
    t.false(pids.some(alive), 'the script was killed at the end of the grace time');
    t.false(alive(spawner), 'the frozen spawner did not outlive its worker');
    second = await start('second');
    const lost = await untilLost(id);
    t.regex(lost.error ?? '', /^worker lost during attempt 1/);
  } finally {
    await first.stop(2000);
    await second?.stop(2000);
    for (const p of [...pids, ...(spawner ? [spawner] : [])]) if (alive(p)) process.kill(p, 'SIGKILL');
  }
});

const HISTORIES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'histories');

test('recorded histories replay against the current workflow code (no non-determinism)', async (t) => {
  const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
  t.true(files.length >= 3, 'success, failure and cancellation histories are kept');
  const histories = files.map((f) => ({
    workflowId: f.replace(/\.json$/, ''),
    history: JSON.parse(fs.readFileSync(path.join(HISTORIES, f), 'utf8')) as object,
  }));
  // The workers' data converter (codec + failure converter): these histories predate the codec, and unencrypted payloads decode untouched.
  const results = Worker.runReplayHistories({ workflowBundle: { codePath: WORKFLOW_BUNDLE }, dataConverter: stackwireDataConverter(config) }, histories);
  let count = 0;
  for await (const r of results) {
    count++;
    t.is(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
  }
  t.is(count, files.length);
});

/** A region of its own with one worker, a testkit.sleep run on it, and that worker SIGKILLed mid-script. */
async function killedMidRun(t: ExecutionContext, o: { idempotent: boolean; seconds: number; watcherKilledFirst?: boolean }) {
  const region = `failover-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-failover-'));
  fs.chmodSync(dir, 0o777); // the script (run as the run user) writes its pids here
  const start = (name: string) => regionWorker(region, dir, name);
  const first = await start('first');
  const action = { ...(await http<ActionSpec>('GET', '/api/v1/actions/testkit.sleep')).body, idempotent: o.idempotent };
  const pidfile = path.join(dir, 'pids');
  const id = `failover-test-${region}`;
  const client = await temporalClient();
  const handle = await client.workflow.start(actionExecution, {
    taskQueue: regionTaskQueue(region),
    workflowId: id,
    args: [{ executionId: id, action, parameters: { pidfile, seconds: o.seconds }, region, actor: 'test', trigger: 'test' } satisfies ActionExecutionInput],
  });
  await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the script to start');
  const pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
  t.true(pids.every(alive), 'the script and its child run');
  fs.rmSync(pidfile);
  if (o.watcherKilledFirst) {
    // Everything of the worker dies at once, its guardian too (say, the whole service killed): the
    // worker is stopped first, so that it cannot start its guardian again.
    const first_ = first.child.pid!;
    process.kill(first_, 'SIGSTOP');
    const guardians = spawnSync('pgrep', ['-f', `stackwire-lifeline ${first_}\\.`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    t.is(guardians.length, 1, 'the worker has a guardian');
    for (const g of guardians) process.kill(g, 'SIGKILL');
  }
  first.child.kill('SIGKILL'); // the worker dies mid-run, without a word
  let second: Awaited<ReturnType<typeof start>>;
  if (o.watcherKilledFirst) {
    // Looked at as soon as the worker is gone: any worker starting on this host meanwhile (other tests
    // start some) reaps what a dead worker left, which is the next assertion's point.
    await first.exited;
    t.true(pids.every(alive), 'without its guardian, the script outlived its worker');
    second = await start('second');
    // The next worker on this host reaps it before it takes work.
    await gone(pids, 'the new worker to reap what the dead one left', 5000);
  } else {
    // No orphan: the script's whole process group dies with its worker, within a second.
    await gone(pids, 'the script and its child to die with their worker');
    second = await start('second');
  }
  t.false(pids.some(alive));
  return {
    id,
    handle,
    pidfile,
    cleanup: async () => {
      await second.stop(2000);
      for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    },
  };
}

test("a worker killed mid-run takes its script's group with it within a second; the run is lost (not failed) until an operator decides, and the decision is recorded", async (t) => {
  const run = await killedMidRun(t, { idempotent: false, seconds: 300 });
  try {
    const lost = await untilLost(run.id);
    t.regex(lost.error ?? '', /worker lost during attempt 1/);
    // The Web UI's "current details" say what to do (set by the workflow once the record says lost: waited for).
    const lostDetails = new RegExp(`LOST .*stackwire execution resolve ${run.id} retry\\|succeeded\\|failed`);
    const details = await eventually(
      async () => {
        const meta = await (await temporalClient()).workflow.getHandle(run.id).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        return lostDetails.test(meta.currentDetails ?? '') ? meta.currentDetails : undefined;
      },
      'the current details to say the run is lost',
      60_000,
      500,
    );
    t.regex(details ?? '', lostDetails);
    t.false(fs.existsSync(run.pidfile), 'not run again by itself: it is not idempotent');
    const viewer = (await makeKey({ name: `viewer-${run.id}`, role: 'viewer' })).key;
    const denied = await http('POST', `/api/v1/executions/${run.id}/resolve`, { decision: 'retry' }, as(viewer));
    t.is(denied.status, 403);
    const r = await cli(['execution', 'resolve', run.id, 'failed', '--reason', 'checked by hand', '--json']);
    t.is(r.code, 0, r.stderr);
    t.like(JSON.parse(r.stdout), { id: run.id, decision: 'failed' });
    const err = await t.throwsAsync(run.handle.result());
    t.regex(String((err?.cause as Error | undefined)?.message), /worker lost during attempt 1.*marked failed by .+: checked by hand/);
    const e = (await http<{ status: string; error: string }>('GET', `/api/v1/executions/${run.id}`)).body;
    t.is(e.status, 'failed');
    t.regex(e.error, /marked failed by .+: checked by hand/);
    t.is((await http('POST', `/api/v1/executions/${run.id}/resolve`, { decision: 'retry' })).status, 409, 'no longer lost');
  } finally {
    await run.cleanup();
  }
});

test('a worker that starts kills what a dead worker on its host left running when its guardian died too', async (t) => {
  const run = await killedMidRun(t, { idempotent: false, seconds: 300, watcherKilledFirst: true });
  await run.handle.terminate('test over').catch(() => undefined);
  await run.cleanup();
});

test('an idempotent run whose worker is killed runs again on another worker of the region, by itself', async (t) => {
  const run = await killedMidRun(t, { idempotent: true, seconds: 3 });
  try {
    const result = (await run.handle.result()) as { status: string };
    t.is(result.status, 'succeeded');
    t.true(fs.existsSync(run.pidfile), 'the script ran again');
    const e = (await http<{ status: string; attempt: number }>('GET', `/api/v1/executions/${run.id}`)).body;
    t.like(e, { status: 'succeeded', attempt: 2 });
  } finally {
    await run.cleanup();
  }
});

test('a worker frozen past the heartbeat timeout: its run is lost, not cancelled; woken, the worker stops the script, and the run stays lost with how its attempt ended', async (t) => {
  // The case a loaded machine or a network partition makes: the worker lives, but no heartbeat reached
  // the server for longer than the heartbeat timeout. The attempt is gone on the server; the worker
  // learns it on its next heartbeat.
  const region = `frozen-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-frozen-'));
  fs.chmodSync(dir, 0o777);
  const worker = await regionWorker(region, dir, 'frozen');
  const pidfile = path.join(dir, 'pids');
  const id = `frozen-test-${region}`;
  let pids: number[] = [];
  try {
    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.sleep')).body;
    t.not(action.idempotent, true, 'not idempotent: a lost run waits for an operator');
    const handle = await (
      await temporalClient()
    ).workflow.start(actionExecution, {
      taskQueue: regionTaskQueue(region),
      workflowId: id,
      args: [{ executionId: id, action, parameters: { pidfile, seconds: 300 }, region, actor: 'test', trigger: 'test' } satisfies ActionExecutionInput],
    });
    await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the script to start', 120_000);
    pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
    process.kill(worker.child.pid!, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, (ACTION_HEARTBEAT_TIMEOUT_SECONDS + 6) * 1000)); // past the heartbeat timeout
    t.true(pids.every(alive), 'the script ran on while its worker was frozen');
    process.kill(worker.child.pid!, 'SIGCONT');
    const seen = new Set<string>();
    const lost = await eventually(
      async () => {
        const e = (await http<{ status: string; error: string | null }>('GET', `/api/v1/executions/${id}`)).body;
        seen.add(e.status);
        return e.status === 'lost' && /the attempt ended/.test(e.error ?? '') ? e : undefined;
      },
      'the run to be lost, with how its attempt ended',
      90_000,
    );
    t.deepEqual(
      [...seen].filter((s) => s !== 'running' && s !== 'lost'),
      [],
      'never cancelled or failed on the way',
    );
    t.regex(lost.error ?? '', /^worker lost during attempt 1 \(its heartbeat stopped\); the script may or may not have done its work/);
    t.regex(lost.error ?? '', /the attempt ended: attempt 1 stopped: Temporal (timed the attempt out|no longer knows the attempt).*process group was killed/);
    await gone(pids, 'the woken worker to stop the script of an attempt Temporal let go', 10_000);
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    t.regex(meta.currentDetails ?? '', /LOST/);
    const r = await cli(['execution', 'resolve', id, 'failed', '--reason', 'frozen worker', '--json']);
    t.is(r.code, 0, r.stderr);
    await t.throwsAsync(handle.result());
    t.is((await http<{ status: string }>('GET', `/api/v1/executions/${id}`)).body.status, 'failed');
  } finally {
    if (worker.child.pid) process.kill(worker.child.pid, 'SIGCONT');
    await worker.stop(5000);
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
  }
});
