/**
 * Worker entrypoint. One process serves one region's task queue (its workflows and all their
 * activities) or, with --orchestrator, the workflows that span regions.
 *
 *   node dist/workers/worker.js --region us-east
 *   node dist/workers/worker.js --orchestrator
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { ORCHESTRATOR_TASK_QUEUE, regionTaskQueue } from '../common/constants.js';
import { createPool } from '../db/pool.js';
import { ConfigError, databaseUrl, loadConfig, temporalAddress } from '../lib/config.js';
import { stackwireDataConverter, temporalConnectionOptions } from '../lib/temporal-client.js';
import { prepareRunDir, resolveRunUser, secureDataDir } from '../lib/isolation.js';
import { reapOrphans } from '../lib/lifeline.js';
import { fenceInPlace, installFence, stackFenceTargets } from '../lib/network-fence.js';
import { WORKFLOW_BUNDLE } from '../lib/paths.js';
import { SensuClient } from '../lib/sensu.js';
import { createLogger } from '../lib/logger.js';
import { installRuntime } from '../lib/temporal-runtime.js';
import { createRegistry, scrape, serveMetrics } from '../lib/metrics.js';
import { freePort } from '../lib/services.js';
import { WorkerMetrics } from './observe.js';

const HELP = `Usage: stackwire-worker (--region <name> | --orchestrator) [--metrics-port N] [--json]

Runs one Stackwire worker process.
  --region <name>   serve the region's task queue "stackwire.<name>": its workflows and activities
  --orchestrator    serve "stackwire.orchestrator": workflows that span regions (no activities)
  --metrics-port N  serve GET /metrics (Prometheus) and GET /healthz on STACKWIRE_WORKER_METRICS_HOST:N
                    (0: a free port, told in the ready line); default STACKWIRE_WORKER_METRICS_PORT, unset: off
  --json            print the ready line as JSON (logs are always ECS JSON lines)
  -h, --help        show this help

Environment: STACKWIRE_SECRET_KEY (required), STACKWIRE_OLD_SECRET_KEYS, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_TLS_CERT/KEY/CA/SERVER_NAME, DATABASE_URL, STACKWIRE_REGIONS, STACKWIRE_SHUTDOWN_GRACE,
STACKWIRE_OUTPUT_CAP, STACKWIRE_MAX_CONCURRENT_ACTIVITIES, STACKWIRE_MAX_CONCURRENT_LOCAL_ACTIVITIES,
STACKWIRE_MAX_CONCURRENT_WORKFLOW_TASKS, STACKWIRE_WORKER_ACTIVITIES_PER_SECOND, STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND,
STACKWIRE_WORKER_METRICS_HOST, STACKWIRE_WORKER_METRICS_PORT, STACKWIRE_LOG_LEVEL, STACKWIRE_RUN_AS, STACKWIRE_RUN_DIR,
STACKWIRE_GIT_ALLOWED_HOSTS, STACKWIRE_GIT_ALLOW_FILE, STACKWIRE_GIT_TIMEOUT, STACKWIRE_INGEST_PATHS (see README).
SIGTERM or SIGINT stops polling and lets running activities finish within the grace time.`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        region: { type: 'string' },
        orchestrator: { type: 'boolean' },
        'metrics-port': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`stackwire-worker: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const { values } = args;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (!values.region === !values.orchestrator) {
    process.stderr.write(`stackwire-worker: give exactly one of --region <name> or --orchestrator.\n\n${HELP}\n`);
    return 2;
  }
  const config = loadConfig();
  const region = values.region;
  if (region !== undefined && !config.regions.includes(region)) {
    process.stderr.write(
      `stackwire-worker: region ${JSON.stringify(region)} is not configured. Configured regions (STACKWIRE_REGIONS): ${config.regions.join(', ')}.\n`,
    );
    return 2;
  }
  const rawPort = values['metrics-port'];
  const metricsPort = rawPort === undefined ? config.worker.metrics.port : /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (metricsPort !== undefined && !(metricsPort >= 0 && metricsPort <= 65535)) {
    process.stderr.write(`stackwire-worker: --metrics-port ${JSON.stringify(rawPort)} is not a port number (0-65535; 0 picks a free one).\n`);
    return 2;
  }
  const role = region ?? 'orchestrator';
  const identity = `${role}@${os.hostname()}/${process.pid}`;
  const logger = createLogger(region ? 'stackwire-worker' : 'stackwire-orchestrator', config.logLevel, {
    ...(region ? { region } : {}),
    'service.node.name': identity,
  });
  // The Temporal SDK's metrics: Core serves them on a loopback port of its own, merged into our /metrics.
  const coreMetrics = metricsPort !== undefined ? `127.0.0.1:${await freePort()}` : undefined;
  installRuntime(logger, config.logLevel, { prometheusBindAddress: coreMetrics });
  const metrics = new WorkerMetrics(createRegistry({ ...(region ? { region } : {}), role: region ? 'worker' : 'orchestrator' }));

  // Scripts run on region workers: decide who they run as and prepare their folders before polling.
  // A configured run user that does not exist stops the worker here (ConfigError).
  secureDataDir(config.dataDir);
  // What a dead worker on this host left running (its watchers dead too) is killed before we take work.
  const reaped = reapOrphans();
  if (reaped.length) logger.warn({ event: 'orphans reaped', pids: reaped }, `killed ${reaped.length} process(es) left by a worker that died`);
  const resolved = region ? resolveRunUser(config.isolation) : undefined;
  const run = region && resolved ? { ...resolved, layout: prepareRunDir(config.isolation.runDir, resolved.user) } : undefined;
  if (run?.warning) logger.warn({ event: 'scripts-not-isolated' }, run.warning);
  if (run?.user) logger.info({ runAs: run.user.name, uid: run.user.uid, runDir: run.layout.root }, 'scripts run as an unprivileged user');

  let fenceTimer: NodeJS.Timeout | undefined;
  if (run?.user && run.user.uid !== 0) {
    // The run user may not reach the database or Temporal (they would need no password on a trusting
    // pg_hba, and Temporal has none): an nftables rule rejects its connections to both.
    const targets = stackFenceTargets(databaseUrl(config), temporalAddress(config));
    const fence = await installFence(run.user.uid, targets, config.scriptEnv);
    if (fence.ok) {
      logger.info({ table: fence.table, fenced: fence.fenced }, 'scripts cannot connect to the database or Temporal');
      // Checked every few seconds and put back if a host tool (a firewall reload, `nft flush ruleset`) removed it.
      const uid = run.user.uid;
      fenceTimer = setInterval(() => {
        void (async () => {
          if ((await fenceInPlace(uid, targets, config.scriptEnv)).ok) return;
          const r = await installFence(uid, targets, config.scriptEnv);
          if (r.ok) logger.warn({ event: 'fence-restored', table: r.table }, 'the network fence had been removed from the ruleset; put back');
          else logger.warn({ event: 'scripts-not-fenced', problem: r.problem }, 'the network fence is gone and could not be put back');
        })().catch((err: unknown) => logger.warn({ err }, 'the network fence could not be checked'));
      }, 5_000);
      fenceTimer.unref();
    } else logger.warn({ event: 'scripts-not-fenced', problem: fence.problem }, `scripts can connect to ${fence.fenced.join(', ')}: ${fence.problem ?? ''}`);
  }

  const taskQueue = region ? regionTaskQueue(region) : ORCHESTRATOR_TASK_QUEUE;
  const dataConverter = stackwireDataConverter(config); // payloads are encrypted: no key, no worker
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const pool = region ? createPool(databaseUrl(config), Math.min(20, config.worker.maxConcurrentActivities + 2)) : undefined;
  let closeMetrics: (() => Promise<void>) | undefined;
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      identity,
      workflowBundle: { codePath: WORKFLOW_BUNDLE },
      dataConverter,
      ...(pool && region && run
        ? {
            activities: createActivities({
              pool,
              region,
              identity,
              outputCapBytes: config.worker.outputCapBytes,
              logger,
              scriptEnv: config.scriptEnv,
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
      // Capacity (README, Configuration): slots per process; rates per process and per region's queue (server-side).
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
      maxConcurrentLocalActivityExecutions: config.worker.maxConcurrentLocalActivities,
      maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
      ...(config.worker.activitiesPerSecond !== undefined ? { maxActivitiesPerSecond: config.worker.activitiesPerSecond } : {}),
      ...(region && config.worker.queueActivitiesPerSecond[region] !== undefined
        ? { maxTaskQueueActivitiesPerSecond: config.worker.queueActivitiesPerSecond[region] }
        : {}),
      interceptors: { activity: [metrics.interceptor()] },
      shutdownGraceTime: `${config.worker.shutdownGraceSeconds}s`,
      // Heartbeats reach the server at least every second, so a cancellation reaches a script within ~1 s.
      maxHeartbeatThrottleInterval: '1s',
    });
    const server =
      metricsPort !== undefined
        ? await serveMetrics({
            host: config.worker.metrics.host,
            port: metricsPort,
            registry: metrics.registry,
            extra: () => scrape(`http://${coreMetrics}/metrics`, logger),
            health: () => ({ ok: worker.getState() === 'RUNNING', state: worker.getState(), taskQueue, identity }),
            logger,
          })
        : undefined;
    closeMetrics = server ? () => server.close() : undefined;
    const ready = {
      event: 'worker ready',
      role,
      taskQueue,
      identity,
      namespace: config.temporal.namespace,
      address: temporalAddress(config),
      ...(server ? { metricsUrl: server.url } : {}),
    };
    logger.info({ ...ready, event: 'worker-ready' }, 'worker ready');
    if (values.json) process.stdout.write(`${JSON.stringify(ready)}\n`);
    await worker.run().finally(() => clearInterval(fenceTimer)); // resolves after SIGTERM/SIGINT once running activities have finished or the grace time ran out
    logger.info({ event: 'worker-stopped', role }, 'worker stopped');
    return 0;
  } finally {
    await closeMetrics?.();
    await pool?.end();
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`stackwire-worker: configuration error: ${err.message}\n`);
    else process.stderr.write(`stackwire-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
