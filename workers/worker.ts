/**
 * Worker entrypoint. A process serves one region's task queue (its workflows and all their
 * activities), or with --orchestrator the workflows that span regions, or several of them at once:
 * one Temporal Worker each, sharing one connection, one Temporal runtime, one database pool and one
 * metrics endpoint. Production runs a process (or several) per region, in the region; the local stack
 * (`npm start`) hosts the orchestrator and every region in one process to save memory.
 *
 *   node dist/workers/worker.js --region us-east
 *   node dist/workers/worker.js --orchestrator
 *   node dist/workers/worker.js --orchestrator --region us-east --region eu-west
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../lib/config.js';
import { runWorkers, type Role } from './run-workers.js';

const HELP = `Usage: stackwire-worker [--region <name>]... [--orchestrator] [--metrics-port N] [--json]

Runs Stackwire workers in one process (give at least one of --region and --orchestrator).
  --region <name>   serve the region's task queue "stackwire.<name>": its workflows and activities;
                    repeat it to serve several regions from this process (one Temporal Worker each)
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
STACKWIRE_GIT_ALLOWED_HOSTS, STACKWIRE_GIT_ALLOW_FILE, STACKWIRE_GIT_TIMEOUT, STACKWIRE_INGEST_PATHS, STACKWIRE_SPAWNER,
STACKWIRE_SPAWNER_SILENCE_SECONDS (see README).
SIGTERM or SIGINT stops polling and lets running activities finish within the grace time; their scripts are
then stopped, and an attempt still not ended 30 s later no longer holds the worker (it exits non-zero).`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        region: { type: 'string', multiple: true },
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
  const regions = values.region ?? [];
  if (regions.length === 0 && !values.orchestrator) {
    process.stderr.write(`stackwire-worker: give --region <name> (one or more) and/or --orchestrator.\n\n${HELP}\n`);
    return 2;
  }
  const twice = regions.find((r, i) => regions.indexOf(r) !== i);
  if (twice !== undefined) {
    process.stderr.write(`stackwire-worker: --region ${JSON.stringify(twice)} is given twice; give each region once.\n`);
    return 2;
  }
  const config = loadConfig();
  const unknown = regions.filter((r) => !config.regions.includes(r));
  if (unknown.length) {
    process.stderr.write(
      `stackwire-worker: region ${unknown.map((r) => JSON.stringify(r)).join(', ')} is not configured. Configured regions (STACKWIRE_REGIONS): ${config.regions.join(', ')}.\n`,
    );
    return 2;
  }
  const rawPort = values['metrics-port'];
  const metricsPort = rawPort === undefined ? config.worker.metrics.port : /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (metricsPort !== undefined && !(metricsPort >= 0 && metricsPort <= 65535)) {
    process.stderr.write(`stackwire-worker: --metrics-port ${JSON.stringify(rawPort)} is not a port number (0-65535; 0 picks a free one).\n`);
    return 2;
  }
  const roles: Role[] = [...(values.orchestrator ? [{ name: 'orchestrator' }] : []), ...regions.map((region) => ({ name: region, region }))];
  return runWorkers(config, roles, metricsPort, Boolean(values.json));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`stackwire-worker: configuration error: ${err.message}\n`);
    else process.stderr.write(`stackwire-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
