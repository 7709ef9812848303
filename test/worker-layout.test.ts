/**
 * Several Workers in one process (the local stack's shared layout, `npm start`): one worker process
 * given two regions serves both queues, runs each region's scripts under that region's name, reports
 * both in /healthz and labels its metrics by region; SIGTERM stops both and the process exits 0. Bad
 * arguments are refused before anything starts.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { regionTaskQueue } from '../common/constants.js';
import type { ActionExecutionInput, ActionSpec } from '../common/types.js';
import { startService } from '../lib/services.js';
import { NODE, WORKER_ENTRY } from '../lib/paths.js';
import { actionExecution } from '../workflows/index.js';
import { http, temporalClient } from './helpers.js';

const worker = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(NODE, [WORKER_ENTRY, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

test('one process serves two regions: each region’s runs carry its name, /healthz and /metrics show both, SIGTERM stops both', async (t) => {
  // Regions only this process serves, so no other worker can take the work.
  const tag = crypto.randomBytes(3).toString('hex');
  const [a, b] = [`lay-a-${tag}`, `lay-b-${tag}`];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-layout-'));
  const svc = await startService({
    name: 'shared',
    command: NODE,
    args: [WORKER_ENTRY, '--region', a, '--region', b, '--metrics-port', '0', '--json'],
    env: { ...process.env, STACKWIRE_REGIONS: `${a},${b}` },
    ready: /^\{"event":"worker ready"/,
    readyTimeoutMs: 180_000,
    output: path.join(dir, 'shared.log'),
  });
  try {
    const ready = JSON.parse(svc.readyLine) as { role: string; taskQueue: string; identity: string; metricsUrl: string };
    t.is(ready.role, `${a}+${b}`);
    t.is(ready.taskQueue, `${regionTaskQueue(a)},${regionTaskQueue(b)}`);
    const pid = svc.child.pid!;
    t.is(ready.identity, `${a}@${os.hostname()}/${pid},${b}@${os.hostname()}/${pid}`);

    const action = (await http<ActionSpec>('GET', '/api/v1/actions/testkit.echo_args')).body;
    const client = await temporalClient();
    const results = await Promise.all(
      [a, b].map(async (region) => {
        const id = `layout-${region}`;
        const input: ActionExecutionInput = { executionId: id, action, parameters: { message: region }, region, actor: 'test', trigger: 'test' };
        return client.workflow.execute(actionExecution, { taskQueue: regionTaskQueue(region), workflowId: id, args: [input] });
      }),
    );
    t.deepEqual(
      results.map((r) => [r.status, r.worker]),
      [
        ['succeeded', `${a}@${os.hostname()}/${pid}`],
        ['succeeded', `${b}@${os.hostname()}/${pid}`],
      ],
      'each region’s run on that region’s Worker of the one process',
    );
    t.true(results[1].stdoutTail.includes(b), results[1].stdoutTail);
    t.deepEqual(
      results.map((r) => r.region),
      [a, b],
    );

    const health = await fetch(`${ready.metricsUrl}/healthz`);
    t.is(health.status, 200);
    t.like(await health.json(), {
      status: 'ok',
      state: 'RUNNING',
      workers: [
        { taskQueue: regionTaskQueue(a), state: 'RUNNING' },
        { taskQueue: regionTaskQueue(b), state: 'RUNNING' },
      ],
    });
    const metrics = await (await fetch(`${ready.metricsUrl}/metrics`)).text();
    for (const region of [a, b])
      t.regex(
        metrics,
        new RegExp(`^stackwire_worker_activity_duration_seconds_count\\{[^}]*activity_type="runAction"[^}]*region="${region}"[^}]*\\} [1-9]`, 'm'),
        `the run in ${region} counted under its region`,
      );
    // Each region's lines name it (the process's own lines name neither).
    const lines = fs
      .readFileSync(path.join(dir, 'shared.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"log.level"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const region of [a, b]) {
      const finished = lines.find((l) => l.message === 'action finished' && l['stackwire.execution_id'] === `layout-${region}`);
      t.like(finished, { 'stackwire.region': region, 'service.name': 'stackwire-worker', 'service.node.name': `${region}@${os.hostname()}/${pid}` });
    }

    svc.child.kill('SIGTERM');
    t.is(await svc.exited, 0, 'both Workers stopped and the process exited cleanly');
  } finally {
    await svc.stop(5000);
  }
});

test('bad worker arguments are refused with what to do, before anything starts', (t) => {
  const none = worker([]);
  t.is(none.status, 2);
  t.regex(none.stderr, /give --region <name> \(one or more\) and\/or --orchestrator/);
  const twice = worker(['--region', 'us-east', '--region', 'us-east']);
  t.is(twice.status, 2);
  t.regex(twice.stderr, /--region "us-east" is given twice; give each region once/);
  const unknown = worker(['--orchestrator', '--region', 'us-east', '--region', 'mars'], { STACKWIRE_REGIONS: 'us-east,eu-west' });
  t.is(unknown.status, 2);
  t.regex(unknown.stderr, /region "mars" is not configured\. Configured regions \(STACKWIRE_REGIONS\): us-east, eu-west/);
  const layout = worker(['--orchestrator'], { STACKWIRE_LOCAL_WORKERS: 'one-big-process' });
  t.not(layout.status, 0);
  t.regex(layout.stderr, /STACKWIRE_LOCAL_WORKERS="one-big-process" is not a layout\. Set it to "shared"/);
  const spawner = worker(['--region', 'us-east'], { STACKWIRE_SPAWNER: 'sometimes' });
  t.not(spawner.status, 0);
  t.regex(spawner.stderr, /STACKWIRE_SPAWNER="sometimes" is neither "on" nor "off"\. Set it to "on" or "off", or leave it unset \(on\)/);
});
