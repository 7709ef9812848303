/**
 * Sensors through the CLI and the API against the real stack: a sensu sensor (polling the Sensu API
 * STUB, test/sensu-stub.ts) emits sensu.event for status changes only, not for the baseline; a git
 * sensor emits git.push when a branch of a local repository moves; a script sensor turns the JSON lines
 * of a test pack action into sensor.<name> triggers without duplicates across restarts; deleting a
 * sensor cancels its workflow (and kills a script's process); bad input is refused before anything starts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { SensorListResponse, SensorView, TriggerListResponse, TriggerRecord } from '../common/api-types.js';
import type { GitSensorInput } from '../common/sensors.js';
import { payloadDigest } from '../db/triggers.js';
import { sensorStatusQuery } from '../workflows/definitions.js';
import { gitSensor } from '../workflows/index.js';
import { alive, cli, eventually, http, makeKey, regionWorker, temporalClient, uniqueName, waitForEnd } from './helpers.js';
import { regionTaskQueue } from '../common/constants.js';

const SENSU = process.env.STACKWIRE_TEST_SENSU_URL ?? '';
const SENSU_KEY = process.env.SENSU_API_KEY ?? '';

/** The trigger instances a sensor recorded (GET /api/v1/triggers), oldest first; `type` narrows them. */
async function triggersOf(sensor: string, type?: string): Promise<TriggerRecord[]> {
  const q = new URLSearchParams({ source: `sensor ${sensor}`, limit: '1000', ...(type ? { type } : {}) });
  const r = await http<TriggerListResponse>('GET', `/api/v1/triggers?${q.toString()}`);
  if (r.status !== 200) throw new Error(`GET /api/v1/triggers answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.triggers.sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : a.id < b.id ? -1 : 1));
}

/** One sensor (GET /api/v1/sensors/:name: one query of its workflow), or undefined when there is none. */
async function sensorView(name: string): Promise<SensorView | undefined> {
  const r = await http<SensorView>('GET', `/api/v1/sensors/${name}`);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`GET /api/v1/sensors/${name} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The sensor as the list shows it (the list asks every running sensor: not something to poll). */
async function listed(name: string): Promise<SensorView | undefined> {
  return (await http<SensorListResponse>('GET', '/api/v1/sensors')).body.sensors.find((s) => s.name === name);
}

/** Waits until the sensor has polled (or started its process) at least `n` times. */
async function polled(name: string, n: number, field: 'polls' | 'starts' = 'polls'): Promise<SensorView> {
  return eventually(
    async () => {
      const v = await sensorView(name);
      return v && (v[field] ?? 0) >= n ? v : undefined;
    },
    `${name} to reach ${n} ${field}`,
    60_000,
    500, // every status read is a query the sensor's worker answers
  );
}

async function sensuEvent(ns: string, entity: string, check: string, status: number): Promise<void> {
  const r = await fetch(`${SENSU}/api/core/v2/namespaces/${ns}/events`, {
    method: 'POST',
    headers: { authorization: `Key ${SENSU_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      entity: { entity_class: 'proxy', metadata: { name: entity, namespace: ns } },
      check: { metadata: { name: check, namespace: ns }, status, output: `status ${status}`, interval: 10, executed: Math.floor(Date.now() / 1000) },
    }),
  });
  if (r.status !== 201) throw new Error(`the Sensu stub answered ${r.status}`);
}

/** The event as the Sensu API returns it now. */
async function sensuGet(ns: string, entity: string, check: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${SENSU}/api/core/v2/namespaces/${ns}/events/${entity}/${check}`, { headers: { authorization: `Key ${SENSU_KEY}` } });
  return (await r.json()) as Record<string, unknown>;
}

async function workflowStatus(name: string): Promise<string> {
  const client = await temporalClient();
  return (await client.workflow.getHandle(`sensor.${name}`).describe()).status.name;
}

/**
 * DELETE /api/v1/sensors/:name: cancelled, and ended cancelled. The API waits up to 15 s for the workflow
 * to close; on a loaded machine it may answer "cancelling" first (CI did), and the workflow ends after.
 */
async function deleteSensor(t: ExecutionContext, name: string): Promise<void> {
  const d = await http<{ name: string; cancelled: boolean; status: string }>('DELETE', `/api/v1/sensors/${name}`);
  t.is(d.status, 200, JSON.stringify(d.body));
  t.like(d.body, { name, cancelled: true });
  t.regex(d.body.status, /^(cancelled|cancelling)$/);
  await eventually(async () => ((await workflowStatus(name)) === 'CANCELLED' ? true : undefined), 'the sensor workflow to end cancelled', 60_000, 500);
}

test('a sensu sensor emits sensu.event for status changes, not for the baseline, and stops when deleted', async (t) => {
  const name = uniqueName('sensu');
  const ns = uniqueName('sensors');
  await sensuEvent(ns, 'web-1', 'http', 0);
  await sensuEvent(ns, 'db-1', 'disk', 2); // failing before the sensor starts: the baseline, not an event
  const created = await cli(['sensor', 'create', name, '--kind', 'sensu', '--interval', '1s', '--namespace', ns, '--json']);
  t.is(created.code, 0, created.stderr);
  t.like(JSON.parse(created.stdout), { name, kind: 'sensu', workflowId: `sensor.${name}`, interval: '1s', triggerType: 'sensu.event' });
  const again = await http('POST', '/api/v1/sensors', { name, kind: 'sensu' });
  t.is(again.status, 409, 'one sensor of a name at a time');
  await polled(name, 1);

  await sensuEvent(ns, 'web-1', 'http', 2);
  const [first] = await eventually(async () => {
    const ts = await triggersOf(name, 'sensu.event');
    return ts.length ? ts : undefined;
  }, 'the sensu.event trigger');
  const event = await sensuGet(ns, 'web-1', 'http');
  const timestamp = event.timestamp as number;
  t.like(first, { id: `sensor.${name}.web-1/http/${timestamp}/2`, type: 'sensu.event', source: `sensor ${name}`, deliveryId: `web-1/http/${timestamp}/2` });
  t.is(first.payloadDigest, payloadDigest({ ...event, previous_status: 0 }).digest, 'the payload is the Sensu event plus previous_status');

  // The same status again is no change; back to OK is; a check first seen failing is (previous_status null).
  await sensuEvent(ns, 'web-1', 'http', 2);
  const polls = (await sensorView(name))?.polls ?? 0;
  await polled(name, polls + 2);
  t.is((await triggersOf(name)).length, 1);
  await sensuEvent(ns, 'web-1', 'http', 0);
  await sensuEvent(ns, 'cache-1', 'memory', 1);
  const all = await eventually(async () => {
    const ts = await triggersOf(name);
    return ts.length >= 3 ? ts : undefined;
  }, 'two more triggers');
  const resolved = all.find((x) => x.deliveryId?.startsWith('web-1/http/') && x.deliveryId.endsWith('/0'));
  t.truthy(resolved);
  t.is(resolved?.payloadDigest, payloadDigest({ ...(await sensuGet(ns, 'web-1', 'http')), previous_status: 2 }).digest);
  const fresh = all.find((x) => x.deliveryId?.startsWith('cache-1/memory/'));
  t.is(fresh?.payloadDigest, payloadDigest({ ...(await sensuGet(ns, 'cache-1', 'memory')), previous_status: null }).digest);
  t.false(
    all.some((x) => x.deliveryId?.startsWith('db-1/')),
    'nothing for the check that was failing before the sensor started',
  );
  t.is(all.length, 3);

  // A minute: on a loaded machine the workflow's task after the third event may take a while (CI once needed more than 15 s).
  const view = await eventually(
    async () => {
      const v = await sensorView(name);
      // The count is Postgres's; the details are the workflow's, set once its next task completes.
      return v?.eventsEmitted === 3 && /3 event\(s\) emitted/.test(v.details ?? '') ? v : undefined;
    },
    'the sensor to count 3 events',
    60_000,
    500,
  );
  t.like(view, { kind: 'sensu', status: 'running', interval: '1s', definition: { namespace: ns }, triggerType: 'sensu.event', lastError: null });
  t.truthy(view.lastPollAt);
  t.regex(view.details ?? '', /polling every 1s, last poll \d\d:\d\d:\d\d UTC, 3 event\(s\) emitted/);
  const table = await cli(['sensor', 'list']);
  t.regex(table.stdout, new RegExp(`${name}\\s+sensu\\s+running\\s+namespace ${ns}\\s+1s\\s+3`));

  const deleted = await cli(['sensor', 'delete', name]);
  t.is(deleted.code, 0, deleted.stderr);
  // The API waits up to 15 s for the workflow to end; a loaded machine may answer "cancelling" first (CI did once).
  t.regex(deleted.stdout, new RegExp(`sensor ${name} stopped \\((cancelled|cancelling)\\)`));
  await eventually(async () => ((await workflowStatus(name)) === 'CANCELLED' ? true : undefined), 'the sensor workflow to end cancelled', 60_000);
  await eventually(async () => ((await listed(name))?.status === 'cancelled' ? true : undefined), 'the list to show it cancelled', 60_000, 500);
  const twice = await cli(['sensor', 'delete', name, '--json']);
  t.like(JSON.parse(twice.stdout), { cancelled: false, status: 'cancelled' });
});

test('a git sensor emits git.push with the new commit when the branch moves', async (t) => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sensor-repo-'));
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README'), 'one\n');
  git('add', '-A');
  git('commit', '-qm', 'one');
  const before = git('rev-parse', 'HEAD').stdout.trim();
  const name = uniqueName('git');
  const url = `file://${repo}`;
  const r = await http('POST', '/api/v1/sensors', { name, kind: 'git', url, branch: 'main', interval: '1s' });
  t.is(r.status, 201, JSON.stringify(r.body));
  t.like(r.body, { triggerType: 'git.push', region: 'us-east', taskQueue: 'stackwire.us-east' });
  await polled(name, 1);
  t.deepEqual(await triggersOf(name), [], 'the first poll records the branch only');

  fs.writeFileSync(path.join(repo, 'README'), 'two\n');
  git('commit', '-qam', 'two');
  const after = git('rev-parse', 'HEAD').stdout.trim();
  const [push] = await eventually(
    async () => {
      const ts = await triggersOf(name);
      return ts.length ? ts : undefined;
    },
    'the git.push trigger',
    60_000,
  );
  t.like(push, { id: `sensor.${name}.${before}..${after}`, type: 'git.push', deliveryId: `${before}..${after}` });
  t.is(push.payloadDigest, payloadDigest({ repository: url, ref: 'refs/heads/main', before, after, commit: after }).digest);
  const polls = (await sensorView(name))?.polls ?? 0;
  await polled(name, polls + 2);
  t.is((await triggersOf(name)).length, 1, 'an unmoved branch emits nothing more');
  t.like(await sensorView(name), { eventsEmitted: 1, definition: { url, branch: 'main' } });
  const shown = await cli(['sensor', 'get', name]);
  t.is(shown.code, 0, shown.stderr);
  t.regex(shown.stdout, new RegExp(`^sensor ${name}: running \\(git, every 1s, on us-east\\); emits git.push; workflow sensor.${name}\n`));
  // The polls come from a query of the sensor: on a loaded machine it may not answer in 10 s (CI: 5–8 s).
  t.regex(shown.stdout, /\n {2}events: {6}1, last at \S+Z\n {2}polls: {7}(\d+, last at \S+Z|\? \(not running, or it did not answer\))\n/);
  const missing = await http<{ error: { code: string } }>('GET', `/api/v1/sensors/no-such-${name}`);
  t.is(missing.status, 404);
  t.is(missing.body.error.code, 'sensor_not_found');
  await deleteSensor(t, name);
});

test('a sensor continues as new with its state: the baseline and counters carry over, nothing is emitted twice', async (t) => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sensor-can-'));
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'one');
  const before = git('rev-parse', 'HEAD').stdout.trim();
  const name = uniqueName('generations');
  const url = `file://${repo}`;
  // Started as the API starts it, but continuing as new every 2 polls instead of 500.
  const client = await temporalClient();
  const input: GitSensorInput = { name, interval: '1s', intervalSeconds: 1, region: 'us-east', createdBy: 'test', url, branch: 'main', runsPerGeneration: 2 };
  const handle = await client.workflow.start(gitSensor, {
    workflowId: `sensor.${name}`,
    taskQueue: 'stackwire.us-east',
    args: [input],
    memo: {
      kind: 'git',
      interval: '1s',
      region: 'us-east',
      triggerType: 'git.push',
      definition: { url, branch: 'main' },
      createdBy: 'test',
      createdAt: new Date().toISOString(),
    },
  });
  const status = async () => handle.query(sensorStatusQuery).catch(() => undefined);
  const generation = async (n: number) => eventually(async () => ((await status())?.generation ?? 0) >= n, `generation ${n}`, 60_000, 500);
  await generation(1);
  git('commit', '-q', '--allow-empty', '-m', 'two');
  const after = git('rev-parse', 'HEAD').stdout.trim();
  await eventually(async () => ((await triggersOf(name)).length ? true : undefined), 'the git.push trigger', 60_000);
  const at = (await status())!.generation;
  await generation(at + 2);
  t.deepEqual(
    (await triggersOf(name)).map((x) => x.deliveryId),
    [`${before}..${after}`],
    'the new runs know the branch: no second event',
  );
  const s = (await status())!;
  t.is(s.emitted, 1);
  t.true(s.polls >= 2 * (at + 2), `polls counted across runs: ${s.polls}`);
  const d = await handle.describe();
  t.not(d.runId, handle.firstExecutionRunId, 'it continued as new');
  t.like(await listed(name), { status: 'running', kind: 'git', eventsEmitted: 1 }, 'the list shows the newest run');
  await deleteSensor(t, name);
});

test('a cancel that arrives with the timer of a sensor about to continue as new ends it cancelled, not dropped', async (t) => {
  // The race CI met, made certain: the sensor's only worker is stopped while the sensor sleeps, its
  // timer fires with nobody to run the workflow, the cancel is recorded after it, and the next worker
  // gets both in one activation. A run that continued as new then would lose the cancel for good.
  const region = uniqueName('sensorcan');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sensor-race-'));
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(repo);
  spawnSync('git', ['init', '-q', '-b', 'main', repo]);
  spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', 'commit', '-q', '--allow-empty', '-m', 'one'], { cwd: repo });
  const name = uniqueName('race');
  const client = await temporalClient();
  // Continues as new after every poll: each timer that fires leads straight to continueAsNew.
  const input: GitSensorInput = {
    name,
    interval: '1s',
    intervalSeconds: 1,
    region,
    createdBy: 'test',
    url: `file://${repo}`,
    branch: 'main',
    runsPerGeneration: 1,
  };
  const handle = await client.workflow.start(gitSensor, { workflowId: `sensor.${name}`, taskQueue: regionTaskQueue(region), args: [input] });
  let worker = await regionWorker(region, dir, 'first');
  try {
    await eventually(
      async () => ((await handle.query(sensorStatusQuery).catch(() => undefined))?.generation ?? 0) >= 1,
      'a first continue-as-new',
      60_000,
      500,
    );
    /** The latest run's history, and whether it sleeps on a timer that has not fired. */
    const latest = async () => {
      const d = await handle.describe();
      const events = (await client.workflow.getHandle(`sensor.${name}`, d.runId).fetchHistory()).events ?? [];
      const started = events.map((e) => Boolean(e.timerStartedEventAttributes)).lastIndexOf(true);
      const fired = events.map((e) => Boolean(e.timerFiredEventAttributes)).lastIndexOf(true);
      return { d, asleep: started > fired };
    };
    // The worker must stop while the sensor sleeps (not mid-poll, not between a poll and its timer): the
    // precondition is checked once it is gone, and the worker started again and stopped again until it holds.
    let sleeping: Awaited<ReturnType<typeof latest>>['d'] | undefined;
    for (let i = 0; i < 10 && !sleeping; i++) {
      if (i > 0) {
        worker = await regionWorker(region, dir, `first-${i}`);
        await eventually(async () => ((await latest()).asleep ? true : undefined), 'the sensor to sleep', 60_000, 100);
      }
      worker.child.kill('SIGTERM');
      t.is(await worker.exited, 0);
      const now = await latest();
      if (now.asleep) sleeping = now.d;
    }
    if (!sleeping) return t.fail('the worker never stopped while the sensor slept');
    t.is(sleeping.status.name, 'RUNNING');
    // The 1 s timer fires with no worker: a workflow task waits, and the cancel joins it.
    await eventually(
      async () => {
        const h = await client.workflow.getHandle(`sensor.${name}`, sleeping.runId).fetchHistory();
        return h.events?.some((e) => e.timerFiredEventAttributes) && h.events.at(-1)?.workflowTaskScheduledEventAttributes ? true : undefined;
      },
      'the timer to fire with no worker',
      30_000,
      200,
    );
    await handle.cancel();
    const events = (await client.workflow.getHandle(`sensor.${name}`, sleeping.runId).fetchHistory()).events ?? [];
    const fired = events.map((e) => Boolean(e.timerFiredEventAttributes)).lastIndexOf(true);
    const cancel = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
    t.true(fired >= 0 && cancel > fired, 'the cancel is recorded after the timer fired');
    t.false(
      events.slice(fired, cancel).some((e) => e.workflowTaskStartedEventAttributes),
      'no worker ran the workflow between them: the next activation carries both',
    );
    worker = await regionWorker(region, dir, 'second');
    await eventually(async () => ((await handle.describe()).status.name === 'CANCELLED' ? true : undefined), 'the sensor to end cancelled', 60_000, 500);
    const d = await handle.describe();
    t.is(d.runId, sleeping.runId, 'the run that was asked ended; no new run goes on polling');
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
    await handle.terminate('test cleanup').catch(() => undefined);
  }
});

test('a script sensor turns the JSON lines of an action into sensor.<name> triggers, no duplicates across restarts', async (t) => {
  const name = uniqueName('script');
  const created = await cli([
    'sensor',
    'create',
    name,
    '--kind',
    'script',
    '--action',
    'testkit.emit_lines',
    '--param',
    `prefix=${name}`,
    '--param',
    'count=3',
    '--interval',
    '1s',
  ]);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, new RegExp(`sensor ${name} started \\(script, every 1s, on us-east\\): emits sensor\\.${name}`));
  // It ends at once and is started again (after 1 s, 2 s …), printing the same ids each time.
  const v = await polled(name, 3, 'starts');
  const ts = await triggersOf(name);
  t.deepEqual(
    ts.map((x) => x.id),
    [1, 2, 3].map((i) => `sensor.${name}.${name}-${i}`),
  );
  t.true(ts.every((x) => x.type === `sensor.${name}` && x.source === `sensor ${name}`));
  t.is(ts[0].payloadDigest, payloadDigest({ id: `${name}-1`, n: 1, sensor: name }).digest, 'the payload is the object the script printed');
  t.like(v, { kind: 'script', eventsEmitted: 3, definition: { action: 'testkit.emit_lines', parameters: { prefix: name, count: 3 } } });
  t.regex(v.details ?? '', /process #\d+ (ended|of testkit\.emit_lines running)/);
  t.is((await http('DELETE', `/api/v1/sensors/${name}`)).status, 200);
});

test('deleting a script sensor cancels its workflow and kills its process', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sensor-'));
  fs.chmodSync(dir, 0o777);
  const pidfile = path.join(dir, 'pid');
  const name = uniqueName('linger');
  const r = await http('POST', '/api/v1/sensors', {
    name,
    kind: 'script',
    action: 'testkit.emit_lines',
    parameters: { prefix: name, count: 1, linger: 300, pidfile },
  });
  t.is(r.status, 201, JSON.stringify(r.body));
  await eventually(async () => ((await triggersOf(name)).length === 1 ? true : undefined), 'the line of the lingering process', 60_000);
  const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
  t.true(alive(pid));
  const d = await http('DELETE', `/api/v1/sensors/${name}`);
  t.is(d.status, 200);
  t.like(d.body, { cancelled: true });
  t.regex(String((d.body as { status?: unknown }).status), /^(cancelled|cancelling)$/, 'cancelling: the API waited 15 s on a loaded machine');
  await eventually(async () => ((await workflowStatus(name)) === 'CANCELLED' ? true : undefined), 'the sensor workflow to end cancelled', 60_000);
  await eventually(() => (!alive(pid) ? true : undefined), 'the process to be gone', 10_000);
});

test('bad sensors are refused with a clear message before anything starts', async (t) => {
  const refused = async (body: Record<string, unknown>, pattern: RegExp) => {
    const r = await http<{ error: { message: string } }>('POST', '/api/v1/sensors', body);
    t.is(r.status, 400, JSON.stringify(r.body));
    t.regex(r.body.error.message, pattern);
    const client = await temporalClient();
    await t.throwsAsync(client.workflow.getHandle(`sensor.${String(body.name)}`).describe(), { instanceOf: WorkflowNotFoundError });
  };
  await refused({ name: uniqueName('bad'), kind: 'nagios' }, /kind: must be one of "sensu", "git", "script"/);
  await refused({ name: uniqueName('bad'), kind: 'git', url: 'https://git.example.com/x.git', interval: 'soon' }, /interval: "soon" is not a duration/);
  await refused({ name: uniqueName('bad'), kind: 'sensu', interval: '0s' }, /interval: "0s" is not a duration from 1 s to 1 day/);
  await refused({ name: uniqueName('bad'), kind: 'script', action: 'testkit.nope' }, /no action named "testkit\.nope"/);
  await refused(
    { name: uniqueName('bad'), kind: 'script', action: 'testkit.emit_lines' },
    /invalid parameters for testkit\.emit_lines:[\s\S]*prefix: is required/,
  );
  await refused({ name: uniqueName('bad'), kind: 'script' }, /action is required for a script sensor/);
  await refused({ name: uniqueName('bad'), kind: 'git' }, /url is required for a git sensor/);
  await refused({ name: uniqueName('bad'), kind: 'git', url: 'git://example.com/x.git' }, /git:\/\/ is not allowed/);
  await refused({ name: uniqueName('bad'), kind: 'git', url: 'https://git.example.com/x.git', branch: 'a..b' }, /branch: "a\.\.b" is not a branch name/);
  await refused({ name: uniqueName('bad'), kind: 'sensu', url: 'https://x' }, /url: not a field of a sensu sensor/);
  await refused({ name: uniqueName('bad'), kind: 'sensu', region: 'mars' }, /region: "mars" is not a configured region/);
  const noKind = await cli(['sensor', 'create', uniqueName('bad')]);
  t.is(noKind.code, 2);
  t.regex(noKind.stderr, /--kind is required/);
  const badCli = await cli(['sensor', 'create', uniqueName('bad'), '--kind', 'sensu', '--interval', 'often']);
  t.is(badCli.code, 2, 'a 400 is bad input');
  t.regex(badCli.stderr, /interval: "often"/);
  const viewer = await makeKey({ name: uniqueName('sensor-viewer'), role: 'viewer' });
  const denied = await cli(['sensor', 'create', uniqueName('v'), '--kind', 'sensu'], { STACKWIRE_API_KEY: viewer.key });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /sensors\.manage needs the admin role/);
  t.is((await cli(['sensor', 'list', '--json'], { STACKWIRE_API_KEY: viewer.key })).code, 0, 'a viewer lists them');
  const missing = await cli(['sensor', 'delete', uniqueName('nope')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no sensor/);
  const help = await cli(['sensor', 'create', '--help']);
  t.regex(help.stdout, /--kind <kind>[\s\S]*--param <key=value>[\s\S]*Kinds:/);
});

test('a check that goes critical fires a remediation rule through the sensor: its action runs with the event mapped in', async (t) => {
  const name = uniqueName('sensu-fix');
  const ns = uniqueName('remediate');
  const entity = uniqueName('web');
  const rule = uniqueName('restart-on-critical');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-remediate-'));
  const file = path.join(dir, 'rule.yaml');
  fs.writeFileSync(
    file,
    `name: ${rule}
trigger: {type: sensu.event}
criteria:
  trigger.entity.metadata.name: {type: equals, pattern: ${entity}}
  trigger.check.status: {type: greaterthan, pattern: 1}
action:
  ref: testkit.quick
  parameters: {value: "\${{ trigger.entity.metadata.name }}/\${{ trigger.check.metadata.name }} went \${{ trigger.check.status }}"}
`,
  );
  t.is((await cli(['rule', 'apply', file])).code, 0);
  await sensuEvent(ns, entity, 'http', 0);
  t.is((await cli(['sensor', 'create', name, '--kind', 'sensu', '--interval', '1s', '--namespace', ns])).code, 0);
  await polled(name, 1);
  await sensuEvent(ns, entity, 'http', 1); // a warning: recorded, the rule's criteria do not hold
  await eventually(async () => (await triggersOf(name, 'sensu.event')).find((x) => x.deliveryId?.endsWith('/1')), 'the warning event', 60_000);
  await sensuEvent(ns, entity, 'http', 2);
  const fired = await eventually(
    async () => (await triggersOf(name, 'sensu.event')).find((x) => x.deliveryId?.endsWith('/2') && x.status !== 'pending' && x.status !== 'received'),
    'the critical event to be dispatched',
    60_000,
  );
  t.deepEqual(fired.matched, [{ rule, version: 1 }]);
  t.is(fired.runs.length, 1, JSON.stringify(fired));
  const run = await waitForEnd(fired.runs[0].workflowId);
  t.is(run.status, 'succeeded', run.stderr);
  t.is((JSON.parse(run.stdout.trim()) as { value: string }).value, `${entity}/http went 2`);
  const warning = (await triggersOf(name, 'sensu.event')).find((x) => x.deliveryId?.endsWith('/1'));
  t.like(warning, { status: 'dispatched', matched: [], runs: [] });
  const trace = await cli(['trace', fired.runs[0].workflowId]);
  t.regex(trace.stdout, new RegExp(`trigger ${fired.id.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: sensu\\.event from sensor ${name}`));
  t.is((await http('DELETE', `/api/v1/sensors/${name}`)).status, 200);
});
