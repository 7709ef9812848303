/**
 * The production engine (issue 14): the full Temporal server on PostgreSQL, built and cached like the
 * CLI, and the Temporal-restart case of the kill matrix. A private stack of its own: a Temporal server
 * (its two databases named per run, dropped after), one worker hosting the orchestrator and a region
 * only it serves, and an API — on a Stackwire database of its own. A deploy runs on it; the Temporal
 * server is stopped (SIGTERM) in the middle of the deploy action and started again; the deploy ends
 * succeeded with every effect exactly once.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Client, Connection } from '@temporalio/client';
import { API_ENTRY, NODE, WORKER_ENTRY } from '../lib/paths.js';
import { startService } from '../lib/services.js';
import { cachedServerDir, freePortBlock, serverPorts } from '../lib/temporal-server.js';
import { findGo } from '../lib/temporal-cli.js';
import { lookupUser } from '../lib/isolation.js';
import { removeFence, stackFenceTargets } from '../lib/network-fence.js';
import { stackwireDataConverter } from '../lib/temporal-client.js';
import { dropDatabase } from '../db/provision.js';
import { startFullTemporal } from '../scripts/stack.js';
import { createKey } from '../api/apikeys.js';
import { createPool } from '../db/pool.js';
import { ADMIN_DB_URL, alive, as, cli, config, eventually, sleep } from './helpers.js';
import { privateDatabase } from './private-stack.js';

async function call<T>(base: string, method: string, urlPath: string, key: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: { ...as(key), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

test('on the full Temporal server, stopped and restarted mid-deploy: the deploy ends succeeded, its action ran once, one record, Puppet converged once', async (t) => {
  t.timeout(30 * 60_000); // the first run on a machine builds the server with Go (minutes); cached afterwards
  const run = crypto.randomBytes(3).toString('hex');
  const region = `engine-${run}`;
  const component = `engine-app-${run}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-engine-'));
  fs.chmodSync(dir, 0o777); // the deploy action (run as the run user) writes its pids here
  const names = { name: `stackwire_engine_${run}_temporal`, visibilityName: `stackwire_engine_${run}_temporal_visibility` };
  const cleanups: (() => Promise<unknown>)[] = [];
  // A Stackwire database of its own: `sot apply` replaces the whole source of truth.
  const db = await privateDatabase(ADMIN_DB_URL, 'engine');
  const pool = createPool(db.url, 4);
  try {
    cleanups.push(() => db.drop());
    cleanups.push(
      () => dropDatabase(ADMIN_DB_URL, names.visibilityName),
      () => dropDatabase(ADMIN_DB_URL, names.name),
    );
    // The one reason to skip: no cached build and no Go to make one (on the development machines Go is there).
    if (!fs.existsSync(cachedServerDir(config)) && !findGo(process.env)) {
      t.log(`SKIPPED: the full Temporal server is not in ${cachedServerDir(config)} and Go is not installed to build it`);
      t.pass();
      return;
    }
    const server = await startFullTemporal({
      config,
      databaseUrl: ADMIN_DB_URL,
      names,
      ports: serverPorts(await freePortBlock()),
      dir: path.join(dir, 'temporal-server'),
      logFile: path.join(dir, 'temporal.log'),
      log: (m) => t.log(m),
    });
    cleanups.push(() => server.stop(10_000));
    t.log(
      `temporal-server: ${server.binaries.source} in ${(server.timings.obtainMs / 1000).toFixed(1)} s, schema ${(server.timings.schemaMs / 1000).toFixed(1)} s, ` +
        `start to serving (namespace and search attributes registered) ${(server.timings.startMs / 1000).toFixed(1)} s, on ${server.address}`,
    );
    const env = { ...process.env, TEMPORAL_ADDRESS: server.address, DATABASE_URL: db.url, STACKWIRE_REGIONS: region };
    // The worker fences the run user off this server's frontend too; the fence goes with the test.
    const runUser = config.isolation.runAs ? lookupUser(config.isolation.runAs) : undefined;
    if (runUser) cleanups.push(() => removeFence(runUser.uid, stackFenceTargets(db.url, server.address), config.scriptEnv));
    const worker = await startService({
      name: 'engine-worker',
      command: NODE,
      args: [WORKER_ENTRY, '--orchestrator', '--region', region],
      env,
      ready: /worker ready/,
      readyTimeoutMs: 180_000,
      output: path.join(dir, 'worker.log'),
    });
    cleanups.push(() => worker.stop(5000));
    const api = await startService({
      name: 'engine-api',
      command: NODE,
      args: [API_ENTRY, '--port', '0', '--json'],
      env,
      ready: /"event":"api ready"/,
      readyTimeoutMs: 180_000,
      output: path.join(dir, 'api.log'),
    });
    cleanups.push(() => api.stop(5000));
    const url = (JSON.parse(api.readyLine.slice(api.readyLine.indexOf('{'))) as { url: string }).url;
    const { key } = await createKey({ pool }, { name: `engine-${run}`, role: 'admin', expiresInSeconds: null, createdBy: 'test' });

    // An action first: the stack works on this engine.
    const started = await call<{ id: string }>(url, 'POST', '/api/v1/executions', key, { action: 'testkit.quick', parameters: { value: run }, region });
    t.is(started.status, 202, JSON.stringify(started.body));
    const quick = await eventually(
      async () => {
        const e = (await call<{ status: string; stdout: string }>(url, 'GET', `/api/v1/executions/${started.body.id}?wait=20`, key)).body;
        return ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(e.status) ? e : undefined;
      },
      'the action to end',
      120_000,
    );
    t.is(quick.status, 'succeeded');
    t.true(quick.stdout.includes(run));

    // A component whose deploy action sleeps 20 s writing its pids first, and whose Puppet role notes each run.
    const pidfile = path.join(dir, 'pids');
    const sot = path.join(dir, 'sot');
    fs.mkdirSync(sot);
    fs.writeFileSync(
      path.join(sot, 'b-engine.yaml'),
      [
        'regions:',
        `  - name: ${region}`,
        'environments:',
        '  - name: production',
        'components:',
        `  - name: ${component}`,
        `    repository: https://ghe.example.com/test/${component}.git`,
        '    platform: docker',
        '    deploy_params:',
        `      pidfile: ${pidfile}`,
        '      seconds: 20',
        '    puppet_role: role::lost_leg',
        '    actions:',
        '      deploy: testkit.sleep',
        '    placements:',
        `      production: [${region}]`,
        '',
      ].join('\n'),
    );
    const applied = await cli(['sot', 'apply', sot], { STACKWIRE_API_URL: url, STACKWIRE_API_KEY: key });
    t.is(applied.code, 0, applied.stderr);
    // Accepted once the server has seen the worker poll the region's queue.
    const deploy = await eventually(
      async () => {
        const d = await call<{ id: string; error?: { code: string } }>(url, 'POST', '/api/v1/deployments', key, {
          component,
          version: '1.0.0',
          environment: 'production',
          health: { timeoutSeconds: 2, intervalSeconds: 1 },
        });
        return d.status === 409 && d.body.error?.code === 'no_worker' ? undefined : d;
      },
      'the worker to be seen',
      60_000,
    );
    t.is(deploy.status, 202, JSON.stringify(deploy.body));
    await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the deploy action to start', 120_000);
    const pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
    fs.rmSync(pidfile); // a second run of the action would write it again
    await sleep(2000);

    // The Temporal server stopped mid-action, then started again on the same databases.
    let at = Date.now();
    await server.stop(30_000);
    const stopMs = Date.now() - at;
    t.true(pids.every(alive), 'the deploy action runs on while Temporal is down');
    const restartMs = await server.restart();
    const downMs = Date.now() - at;
    t.log(
      `temporal-server: SIGTERM to exit ${(stopMs / 1000).toFixed(1)} s; start again to serving ${(restartMs / 1000).toFixed(1)} s; down ${(downMs / 1000).toFixed(1)} s in all`,
    );

    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: stackwireDataConverter(config) });
    at = Date.now();
    await eventually(() => (pids.some(alive) ? undefined : true), 'the deploy action to end', 60_000);
    const scriptEndedAt = Date.now();
    // Resumed: the action's end reaches Temporal (its execution record says so), then the leg goes on to Puppet.
    const [{ id: recordId }] = (await pool.query<{ id: string }>('SELECT id FROM deployments WHERE component = $1', [component])).rows;
    await eventually(
      async () => (await call<{ status: string }>(url, 'GET', `/api/v1/executions/${recordId}.action`, key)).body.status === 'succeeded' || undefined,
      'the deploy action to be recorded succeeded',
      60_000,
    );
    const recordedAt = Date.now();
    await client.workflow.getHandle(deploy.body.id).result();
    t.log(
      `after the restart: the deploy action's script ended ${((scriptEndedAt - at) / 1000).toFixed(1)} s later (the rest of its sleep), ` +
        `recorded succeeded ${((recordedAt - scriptEndedAt) / 1000).toFixed(1)} s after that, the deploy (Puppet's 6 s sleep included) ended ${((Date.now() - recordedAt) / 1000).toFixed(1)} s after that`,
    );

    const { rows } = await pool.query<{ id: string; status: string }>('SELECT id, status FROM deployments WHERE component = $1', [component]);
    t.is(rows.length, 1, 'one deployment record');
    t.is(rows[0].status, 'succeeded');
    const action = (await call<{ status: string; attempt: number }>(url, 'GET', `/api/v1/executions/${rows[0].id}.action`, key)).body;
    t.like(action, { status: 'succeeded', attempt: 1 }, 'one execution record, one attempt');
    t.false(fs.existsSync(pidfile), 'the deploy action was not run again');
    const state = path.join(config.dataDir, 'deployments', 'production', region, component);
    t.is(fs.readFileSync(path.join(state, 'puppet-runs'), 'utf8'), 'started\n', 'Puppet ran once');
    t.is(fs.readFileSync(path.join(state, 'converged'), 'utf8'), 'converged\n', 'and converged once');
    t.is((await client.workflow.count(`WorkflowId = "${deploy.body.id}"`)).count, 1, 'one deploy run');
  } finally {
    await pool.end();
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => t.log(`cleanup: ${String(e)}`));
  }
});
