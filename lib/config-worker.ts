/**
 * A worker's capacity and telemetry settings: concurrency limits, activity rate limits (per worker and
 * per region's task queue) and where it serves /metrics and /healthz. Read by lib/config.ts.
 */
import { ConfigError, int, optional, str, type Env } from './config-values.js';

export interface WorkerConfig {
  shutdownGraceSeconds: number;
  /** Where pip gets StackStorm packs' requirements: a wheelhouse (STACKWIRE_PIP_FIND_LINKS) or an index (PIP_INDEX_URL). */
  pip: { findLinks: string | undefined; indexUrl: string | undefined };
  /** Bytes of stdout and of stderr kept per execution. */
  outputCapBytes: number;
  /** Activities one worker process runs at once (STACKWIRE_MAX_CONCURRENT_ACTIVITIES). */
  maxConcurrentActivities: number;
  /** Local activities one worker process runs at once (STACKWIRE_MAX_CONCURRENT_LOCAL_ACTIVITIES). */
  maxConcurrentLocalActivities: number;
  /** Workflow tasks one worker process handles at once (STACKWIRE_MAX_CONCURRENT_WORKFLOW_TASKS). */
  maxConcurrentWorkflowTasks: number;
  /** Activities a second one worker process starts at most (STACKWIRE_WORKER_ACTIVITIES_PER_SECOND); undefined: no limit. */
  activitiesPerSecond: number | undefined;
  /**
   * Activities a second a region's task queue hands out, over all its workers, enforced by the Temporal
   * server (STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND); per region, absent: no limit.
   */
  queueActivitiesPerSecond: Record<string, number>;
  /** Where /metrics and /healthz are served: port undefined = not served, 0 = a free port (STACKWIRE_WORKER_METRICS_PORT). */
  metrics: { host: string; port: number | undefined };
  /**
   * How `npm start` runs the workers (STACKWIRE_LOCAL_WORKERS): `shared`, the orchestrator and every
   * region in one process (less memory); `per-role`, a process each, as production runs them.
   */
  localLayout: 'shared' | 'per-role';
  /**
   * A regional worker starts its scripts through a small spawner process (STACKWIRE_SPAWNER, default
   * on; lib/spawner.ts): ~1.3 ms a start instead of 3–4 ms forking the worker, for ~42 MB RSS (~10 MB PSS).
   */
  spawner: boolean;
  /**
   * Testing only (STACKWIRE_TEST_SPAWNER_HOLD_PID_MS): the spawner says a script started this late
   * (lib/spawner.ts).
   */
  spawnerHold: { ms: number } | undefined;
  /** A spawner silent this long while it holds scripts is killed, and they with it (STACKWIRE_SPAWNER_SILENCE_SECONDS). */
  spawnerSilenceSeconds: number;
}

function onOff(raw: string | undefined, name: string, dflt: boolean): boolean {
  const v = (raw ?? (dflt ? 'on' : 'off')).trim().toLowerCase();
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is neither "on" nor "off". Set it to "on" or "off", or leave it unset (${dflt ? 'on' : 'off'}).`);
}

function layout(raw: string | undefined): 'shared' | 'per-role' {
  const v = (raw ?? 'shared').trim();
  if (v === 'shared' || v === 'per-role') return v;
  throw new ConfigError(
    `STACKWIRE_LOCAL_WORKERS=${JSON.stringify(raw)} is not a layout. Set it to "shared" (the orchestrator and every region in one process) or "per-role" (a process each).`,
  );
}

function spawnerHold(env: Env): WorkerConfig['spawnerHold'] {
  const ms = int(env, 'STACKWIRE_TEST_SPAWNER_HOLD_PID_MS', 0, 0, 60_000);
  return ms ? { ms } : undefined;
}

const RATE = /^\d+(\.\d+)?$/;

function rate(raw: string, source: string): number {
  const n = Number(raw);
  if (!RATE.test(raw) || !(n > 0) || n > 1_000_000)
    throw new ConfigError(`${source}: ${JSON.stringify(raw)} is not a rate. Give activities a second as a positive number, e.g. 20 or 0.5.`);
  return n;
}

/** "20" (every region) or "us-east=20,eu-west=5" (per region; a region left out has no limit). */
export function queueRates(raw: string | undefined, regions: string[]): Record<string, number> {
  const name = 'STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND';
  if (raw === undefined) return {};
  if (!raw.includes('=')) {
    const n = rate(raw.trim(), name);
    return Object.fromEntries(regions.map((r) => [r, n]));
  }
  const out: Record<string, number> = {};
  for (const part of raw.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const [region, value, ...more] = part.split('=').map((s) => s.trim());
    if (!region || value === undefined || more.length)
      throw new ConfigError(`${name}: ${JSON.stringify(part)} is not region=rate. Give e.g. "us-east=20,eu-west=5", or one number for every region.`);
    if (!regions.includes(region))
      throw new ConfigError(`${name}: region ${JSON.stringify(region)} is not configured. Configured regions (STACKWIRE_REGIONS): ${regions.join(', ')}.`);
    if (region in out) throw new ConfigError(`${name}: region ${JSON.stringify(region)} is listed twice.`);
    out[region] = rate(value, `${name} (${region})`);
  }
  return out;
}

function metricsPort(raw: string): number {
  const n = Number(raw.trim());
  if (!/^\d{1,5}$/.test(raw.trim()) || n > 65535)
    throw new ConfigError(
      `STACKWIRE_WORKER_METRICS_PORT=${JSON.stringify(raw)} is not a port. Set it to a number from 1 to 65535, 0 for a free port, or unset it to serve no metrics.`,
    );
  return n;
}

export function workerConfig(env: Env, regions: string[]): WorkerConfig {
  const perWorker = optional(env, 'STACKWIRE_WORKER_ACTIVITIES_PER_SECOND');
  const port = optional(env, 'STACKWIRE_WORKER_METRICS_PORT');
  return {
    shutdownGraceSeconds: int(env, 'STACKWIRE_SHUTDOWN_GRACE', 30, 0, 86400),
    outputCapBytes: int(env, 'STACKWIRE_OUTPUT_CAP', 65536, 1024, 16 * 1024 * 1024),
    maxConcurrentActivities: int(env, 'STACKWIRE_MAX_CONCURRENT_ACTIVITIES', 50, 1, 10000),
    maxConcurrentLocalActivities: int(env, 'STACKWIRE_MAX_CONCURRENT_LOCAL_ACTIVITIES', 100, 1, 10000),
    maxConcurrentWorkflowTasks: int(env, 'STACKWIRE_MAX_CONCURRENT_WORKFLOW_TASKS', 40, 2, 10000),
    activitiesPerSecond: perWorker === undefined ? undefined : rate(perWorker.trim(), 'STACKWIRE_WORKER_ACTIVITIES_PER_SECOND'),
    queueActivitiesPerSecond: queueRates(optional(env, 'STACKWIRE_QUEUE_ACTIVITIES_PER_SECOND'), regions),
    metrics: {
      host: str(env, 'STACKWIRE_WORKER_METRICS_HOST', '127.0.0.1'),
      port: port === undefined ? undefined : metricsPort(port),
    },
    localLayout: layout(optional(env, 'STACKWIRE_LOCAL_WORKERS')),
    spawner: onOff(optional(env, 'STACKWIRE_SPAWNER'), 'STACKWIRE_SPAWNER', true),
    spawnerHold: spawnerHold(env),
    spawnerSilenceSeconds: int(env, 'STACKWIRE_SPAWNER_SILENCE_SECONDS', 60, 1, 3600),
    pip: { findLinks: optional(env, 'STACKWIRE_PIP_FIND_LINKS'), indexUrl: optional(env, 'PIP_INDEX_URL') },
  };
}
