/**
 * The workers of one process: one Temporal Worker per role (a region's queue, or the orchestrator's),
 * sharing the process's Temporal runtime and connection, its database pool, its network fence and
 * its metrics endpoint. A process with one role is the production shape (a region's workers run in
 * the region); several roles in one process is the local stack's (`npm start`), to save memory.
 */
import os from 'node:os';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { ORCHESTRATOR_TASK_QUEUE, regionTaskQueue } from '../common/constants.js';
import { createPool } from '../db/pool.js';
import { type Config, databaseUrl, temporalAddress } from '../lib/config.js';
import { stackwireDataConverter, temporalConnectionOptions } from '../lib/temporal-client.js';
import { prepareRunDir, resolveRunUser, secureDataDir } from '../lib/isolation.js';
import { reapOrphans } from '../lib/lifeline.js';
import { useSpawner } from '../lib/spawn.js';
import { Spawner } from '../lib/spawner.js';
import { fenceInPlace, installFence, stackFenceTargets } from '../lib/network-fence.js';
import { WORKFLOW_BUNDLE } from '../lib/paths.js';
import { SensuClient } from '../lib/sensu.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { installRuntime } from '../lib/temporal-runtime.js';
import { createRegistry, scrape, serveMetrics } from '../lib/metrics.js';
import { freePort } from '../lib/services.js';
import { WorkerMetrics } from './observe.js';

/** What one Worker of the process serves: the orchestrator's queue, or a region's. */
export interface Role {
  name: string;
  region?: string;
}

/** The service name of a role's log lines (ECS service.name). */
const serviceName = (r: Role) => (r.region ? 'stackwire-worker' : 'stackwire-orchestrator');

/** Keeps the run user fenced off the database and Temporal: installed now, checked every 5 s, put back if removed. */
async function keepFence(config: Config, uid: number, logger: Logger): Promise<NodeJS.Timeout | undefined> {
  // The run user may not reach the database or Temporal (they would need no password on a trusting
  // pg_hba, and Temporal has none): an nftables rule rejects its connections to both.
  const targets = stackFenceTargets(databaseUrl(config), temporalAddress(config));
  const fence = await installFence(uid, targets, config.scriptEnv);
  if (!fence.ok) {
    logger.warn({ event: 'scripts-not-fenced', problem: fence.problem }, `scripts can connect to ${fence.fenced.join(', ')}: ${fence.problem ?? ''}`);
    return undefined;
  }
  logger.info({ table: fence.table, fenced: fence.fenced }, 'scripts cannot connect to the database or Temporal');
  // Checked every few seconds and put back if a host tool (a firewall reload, `nft flush ruleset`) removed it.
  const timer = setInterval(() => {
    void (async () => {
      if ((await fenceInPlace(uid, targets, config.scriptEnv)).ok) return;
      const r = await installFence(uid, targets, config.scriptEnv);
      if (r.ok) logger.warn({ event: 'fence-restored', table: r.table }, 'the network fence had been removed from the ruleset; put back');
      else logger.warn({ event: 'scripts-not-fenced', problem: r.problem }, 'the network fence is gone and could not be put back');
    })().catch((err: unknown) => logger.warn({ err }, 'the network fence could not be checked'));
  }, 5_000);
  timer.unref();
  return timer;
}

/** How long after the shutdown grace time a worker whose activities still run exits anyway. */
const SHUTDOWN_FORCE_AFTER_GRACE_SECONDS = 30;

export async function runWorkers(config: Config, roles: Role[], metricsPort: number | undefined, json: boolean): Promise<number> {
  const regions = roles.flatMap((r) => (r.region ? [r.region] : []));
  const only = roles.length === 1 ? roles[0] : undefined;
  const identityOf = (r: Role) => `${r.name}@${os.hostname()}/${process.pid}`;
  const logger = createLogger(only ? serviceName(only) : 'stackwire-worker', config.logLevel, {
    ...(only?.region ? { region: only.region } : {}),
    'service.node.name': only ? identityOf(only) : `${roles.map((r) => r.name).join('+')}@${os.hostname()}/${process.pid}`,
  });
  // Each role's own lines (its activities', its worker's) carry its service name and region.
  const roleLogger = (r: Role) =>
    only ? logger : createLogger(serviceName(r), config.logLevel, { ...(r.region ? { region: r.region } : {}), 'service.node.name': identityOf(r) });
  // Scripts start in a small spawner process, forked now while this process is small: a fork from the
  // grown worker cost 3–4 ms a script and stalled its other threads (lib/spawner.ts). STACKWIRE_SPAWNER=off
  // (npm start's shared layout) forks from the worker instead, for ~42 MB less.
  const spawner =
    regions.length && config.worker.spawner
      ? new Spawner({
          onWarning: (message) => logger.warn({ event: 'spawner' }, message),
          ...(config.worker.spawnerHold ? { hold: config.worker.spawnerHold } : {}),
          silenceMs: config.worker.spawnerSilenceSeconds * 1000,
        })
      : undefined;
  useSpawner(spawner);
  // The Temporal SDK's metrics: Core serves them on a loopback port of its own, merged into our /metrics.
  const coreMetrics = metricsPort !== undefined ? `127.0.0.1:${await freePort()}` : undefined;
  installRuntime(logger, config.logLevel, { prometheusBindAddress: coreMetrics });
  const metrics = new WorkerMetrics(createRegistry({ ...(only?.region ? { region: only.region } : {}), role: regions.length ? 'worker' : 'orchestrator' }));

  // Scripts run on region workers: decide who they run as and prepare their folders before polling.
  // A configured run user that does not exist stops the worker here (ConfigError).
  secureDataDir(config.dataDir);
  // What a dead worker on this host left running (its watchers dead too) is killed before we take work.
  const reaped = reapOrphans();
  if (reaped.length) logger.warn({ event: 'orphans reaped', pids: reaped }, `killed ${reaped.length} process(es) left by a worker that died`);
  const resolved = regions.length ? resolveRunUser(config.isolation) : undefined;
  const run = resolved ? { ...resolved, layout: prepareRunDir(config.isolation.runDir, resolved.user) } : undefined;
  if (run?.warning) logger.warn({ event: 'scripts-not-isolated' }, run.warning);
  if (run?.user) logger.info({ runAs: run.user.name, uid: run.user.uid, runDir: run.layout.root }, 'scripts run as an unprivileged user');
  const fenceTimer = run?.user && run.user.uid !== 0 ? await keepFence(config, run.user.uid, logger) : undefined;

  const dataConverter = stackwireDataConverter(config); // payloads are encrypted: no key, no worker
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const pool = regions.length
    ? createPool(databaseUrl(config), Math.min(20 * regions.length, regions.length * config.worker.maxConcurrentActivities + 2))
    : undefined;
  let closeMetrics: (() => Promise<void>) | undefined;
  try {
    const workers = await Promise.all(
      roles.map(async (role) => {
        const taskQueue = role.region ? regionTaskQueue(role.region) : ORCHESTRATOR_TASK_QUEUE;
        const identity = identityOf(role);
        const worker = await Worker.create({
          connection,
          namespace: config.temporal.namespace,
          taskQueue,
          identity,
          workflowBundle: { codePath: WORKFLOW_BUNDLE },
          dataConverter,
          ...(pool && role.region && run
            ? {
                activities: createActivities({
                  pool,
                  region: role.region,
                  identity,
                  outputCapBytes: config.worker.outputCapBytes,
                  logger: roleLogger(role),
                  scriptEnv: config.scriptEnv,
                  pip: config.worker.pip,
                  secretKey: config.secretKey,
                  oldSecretKeys: config.oldSecretKeys,
                  runLayout: run.layout,
                  runUser: run.user,
                  git: config.git,
                  ingestPaths: config.ingestPaths,
                  dataDir: config.dataDir,
                  puppetModulePath: config.puppetModulePath,
                  sensu: config.sensu ? new SensuClient(config.sensu) : undefined,
                }),
              }
            : {}),
          // Capacity (README, Configuration): slots per Worker; rates per Worker and per region's queue (server-side).
          maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
          maxConcurrentLocalActivityExecutions: config.worker.maxConcurrentLocalActivities,
          maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
          ...(config.worker.activitiesPerSecond !== undefined ? { maxActivitiesPerSecond: config.worker.activitiesPerSecond } : {}),
          ...(role.region && config.worker.queueActivitiesPerSecond[role.region] !== undefined
            ? { maxTaskQueueActivitiesPerSecond: config.worker.queueActivitiesPerSecond[role.region] }
            : {}),
          interceptors: { activity: [metrics.interceptor(role.region)] },
          shutdownGraceTime: `${config.worker.shutdownGraceSeconds}s`,
          // Past the grace time the running activities are cancelled (their scripts' groups killed); one that
          // still does not end (its spawner stuck, a bug) would keep the worker from ever exiting.
          shutdownForceTime: `${config.worker.shutdownGraceSeconds + SHUTDOWN_FORCE_AFTER_GRACE_SECONDS}s`,
          // Heartbeats reach the server at least every second, so a cancellation reaches a script within ~1 s.
          maxHeartbeatThrottleInterval: '1s',
          // A workflow task waits for this Worker (its sticky cache) at most 1 s before any Worker of the
          // queue may take it (replaying the history). The default, 10 s, added 10 s to every takeover of a
          // killed worker's runs: its sticky queue kept the workflow's next task after the heartbeat timeout.
          stickyQueueScheduleToStartTimeout: '1s',
        });
        return { role, worker, taskQueue, identity };
      }),
    );
    const state = () => workers.map((w) => ({ taskQueue: w.taskQueue, identity: w.identity, state: w.worker.getState() }));
    const server =
      metricsPort !== undefined
        ? await serveMetrics({
            host: config.worker.metrics.host,
            port: metricsPort,
            registry: metrics.registry,
            extra: () => scrape(`http://${coreMetrics}/metrics`, logger),
            health: () => {
              const states = state();
              const ok = states.every((s) => s.state === 'RUNNING');
              // One Worker: its fields at the top level; several: each under workers, RUNNING only when all are.
              return only ? { ok, ...states[0] } : { ok, state: ok ? 'RUNNING' : 'DEGRADED', workers: states };
            },
            logger,
          })
        : undefined;
    closeMetrics = server ? () => server.close() : undefined;
    const ready = {
      event: 'worker ready',
      role: only ? only.name : roles.map((r) => r.name).join('+'),
      taskQueue: only ? workers[0].taskQueue : workers.map((w) => w.taskQueue).join(','),
      identity: only ? workers[0].identity : workers.map((w) => w.identity).join(','),
      namespace: config.temporal.namespace,
      address: temporalAddress(config),
      ...(server ? { metricsUrl: server.url } : {}),
    };
    logger.info({ ...ready, event: 'worker-ready' }, 'worker ready');
    if (json) process.stdout.write(`${JSON.stringify(ready)}\n`);
    // Each run resolves after SIGTERM/SIGINT once its running activities have finished or the grace time ran
    // out. One Worker failing stops the others (the process then exits non-zero, for its supervisor to restart).
    let failed: Error | undefined;
    let stopAsked: number | undefined;
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => (stopAsked ??= Date.now()));
    await Promise.all(
      workers.map((w) =>
        w.worker.run().catch((err: unknown) => {
          failed ??= err instanceof Error ? err : new Error(`a worker failed: ${JSON.stringify(err)}`);
          for (const o of workers) if (o !== w && o.worker.getState() === 'RUNNING') o.worker.shutdown();
        }),
      ),
    ).finally(() => clearInterval(fenceTimer));
    // (The SDK's own error then is about the worker it could not let go, not the expired period.)
    const forcedAfterMs = (config.worker.shutdownGraceSeconds + SHUTDOWN_FORCE_AFTER_GRACE_SECONDS) * 1000;
    if (failed !== undefined && stopAsked !== undefined && Date.now() - stopAsked >= forcedAfterMs - 500)
      logger.error(
        { event: 'shutdown-forced' },
        `activities were still running ${SHUTDOWN_FORCE_AFTER_GRACE_SECONDS} s after the grace time: the worker exits without them (the server counts their attempts lost at their heartbeat timeout)`,
      );
    if (failed !== undefined) throw failed;
    logger.info({ event: 'worker-stopped', role: ready.role }, 'worker stopped');
    return 0;
  } finally {
    useSpawner(undefined);
    spawner?.stop();
    await closeMetrics?.();
    await pool?.end();
    // After a forced shutdown the SDK may still hold the connection: the process exits all the same.
    await connection.close().catch((err: unknown) => logger.warn({ err }, 'could not close the Temporal connection'));
  }
}
