/**
 * Brings up a whole Stackwire stack: Temporal (a cluster or our dev server), Postgres (with
 * migrations and the given packs registered), the orchestrator and regional workers, the API.
 * Used by `npm start`, by the test runner and by the benchmarks, so all three run the same thing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../lib/config.js';
import {
  TEMPORAL_SERVER_VERSION,
  obtainTemporalServer,
  startTemporalServer,
  type TemporalServer,
  type TemporalServerBinaries,
  type TemporalServerPorts,
} from '../lib/temporal-server.js';
import { serverDatabase, setupTemporalSchema } from '../db/temporal-schema.js';
import { withDatabase } from '../db/provision.js';
import { upsertActions, type UpsertOutcome } from '../db/actions.js';
import { migrate } from '../db/migrate.js';
import { registerPackVersion } from '../db/packs.js';
import { createPool, type Pool } from '../db/pool.js';
import { getApiKey } from '../db/apikeys.js';
import { parseApiKey, secretMatches } from '../lib/api-keys.js';
import { readCredentials, writeCredentials } from '../lib/credentials.js';
import { createKey } from '../api/apikeys.js';
import { walkTree } from '../lib/walk.js';
import { BUILTIN_ACTIONS } from '../lib/builtins.js';
import { loadPack } from '../lib/packs.js';
import { startService, type Service } from '../lib/services.js';

import { API_ENTRY, NODE, WORKER_ENTRY } from '../lib/paths.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import type { RunningApi } from '../api/serve.js';

/** V8's young generation at 1 MB a semi-space (16 by default): about 55 MB less for a worker process with its workflow threads, a little more GC. */
const SMALL_YOUNG_GENERATION = '--max-semi-space-size=1';

export { API_ENTRY, CLI_ENTRY, NODE, WORKER_ENTRY } from '../lib/paths.js';

export { ensureSearchAttributes } from '../lib/temporal-server.js';

/**
 * The production engine: the full Temporal server (built once, cached per user) on the given
 * Postgres, its two databases set up with its schema, started on loopback with the namespace and
 * Stackwire's search attributes registered. Used by `npm start -- --engine server` and the engine test.
 */
export async function startFullTemporal(o: {
  config: Config;
  /** Any database on the Postgres server the Temporal server keeps its databases on. */
  databaseUrl: string;
  names: { name: string; visibilityName: string };
  ports: TemporalServerPorts;
  /** Holds the generated configuration. */
  dir: string;
  logFile: string;
  log: (m: string) => void;
}): Promise<TemporalServer & { binaries: TemporalServerBinaries; timings: { obtainMs: number; schemaMs: number; startMs: number } }> {
  let t = Date.now();
  const binaries = await obtainTemporalServer(o.config, process.env, o.log);
  const obtainMs = Date.now() - t;
  o.log(
    `temporal-server: v${TEMPORAL_SERVER_VERSION} from ${binaries.source}: ${binaries.server}${binaries.source === 'go build' ? ` (built in ${Math.round(obtainMs / 1000)} s)` : ''}`,
  );
  t = Date.now();
  const adminUrl = withDatabase(o.databaseUrl, 'postgres');
  await setupTemporalSchema({ binaries, adminUrl, names: o.names, log: o.log });
  const schemaMs = Date.now() - t;
  t = Date.now();
  const server = await startTemporalServer({
    binaries,
    dir: o.dir,
    logFile: o.logFile,
    ports: o.ports,
    namespace: o.config.temporal.namespace,
    database: { ...serverDatabase(adminUrl), ...o.names },
  });
  return Object.assign(server, { binaries, timings: { obtainMs, schemaMs, startMs: Date.now() - t } });
}

/**
 * Registers packs of hand-written metadata: their files go to the content-addressed store (so any
 * worker can materialise them) and their actions to the catalog, one transaction per pack.
 */
export async function registerPacks(pool: Pool, packDirs: string[]): Promise<UpsertOutcome[]> {
  const out: UpsertOutcome[] = await upsertActions(pool, BUILTIN_ACTIONS);
  for (const dir of packDirs) {
    const { pack, actions } = loadPack(dir);
    const { files } = walkTree(dir);
    out.push(...(await registerPackVersion(pool, pack, files, { kind: 'metadata', location: dir }, actions)).outcomes);
  }
  return out;
}

export async function prepareDatabase(url: string, packDirs: string[], log: (m: string) => void): Promise<UpsertOutcome[]> {
  const { applied } = await migrate(url, { log });
  if (applied.length) log(`postgres: applied migrations ${applied.join(', ')}`);
  const pool = createPool(url, 2);
  try {
    return await registerPacks(pool, packDirs);
  } finally {
    await pool.end();
  }
}

export interface Processes {
  services: (Service & { readyLine: string })[];
  apiUrl: string;
  /** Where each worker (orchestrator, worker-<region>) serves /metrics and /healthz, when asked for. */
  workerMetrics: Record<string, string>;
  stop(): Promise<void>;
}

/** A string field of a process's ready line (an ECS log line). */
function readyField(line: string, field: string): string {
  const v = (JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>)[field];
  if (typeof v !== 'string') throw new Error(`the ready line has no ${field}: ${line}`);
  return v;
}

/** Fields of an ECS log line not worth a terminal's width. */
const QUIET_FIELDS = new Set([
  '@timestamp',
  'log.level',
  'log.logger',
  'message',
  'ecs.version',
  'service.name',
  'event.dataset',
  'event.action',
  'process.pid',
  'host.hostname',
  'stackwire.region',
  'trace.id',
  'stackwire.request_id',
]);

/** Formats a process's ECS JSON log line for a terminal; undefined hides it (the SDK's news, successful requests). */
export function humanLine(line: string): string | undefined {
  if (!line.startsWith('{')) return line;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
    const level = typeof o['log.level'] === 'string' ? o['log.level'] : 'info';
    if (typeof o['log.logger'] === 'string' && o['log.logger'].startsWith('temporal.') && level === 'info') return undefined;
    if (o.message === 'request' && Number(o['http.response.status_code']) < 400) return undefined;
    const error = (o.error as { message?: unknown } | undefined)?.message ?? o['error.message'];
    const extra = Object.entries(o)
      .filter(([k, v]) => !QUIET_FIELDS.has(k) && !k.startsWith('error') && v !== undefined && typeof v !== 'object')
      .map(([k, v]) => `${k.replace(/^stackwire\./, '')}=${String(v)}`)
      .join(' ');
    return `${level} ${text(o.message)}${error !== undefined ? `: ${text(error)}` : ''}${extra ? `  ${extra}` : ''}`;
  } catch {
    return line;
  }
}

export async function startProcesses(o: {
  env: NodeJS.ProcessEnv;
  regions: string[];
  apiPort: number;
  /** A folder for one log file per process (ECS JSON lines), or undefined to print to the terminal. */
  logDir?: string;
  /** With a logDir: show the lines condensed on the terminal too (npm start). */
  echo?: boolean;
  /** Each worker serves /metrics and /healthz on a free loopback port (told in Processes.workerMetrics). */
  workerMetrics?: boolean;
  /**
   * per-role (default): the API, the orchestrator and each region in a process of its own, as
   * production runs them. shared (npm start): the orchestrator and every region in one process
   * "workers" (one Temporal runtime), the API inside this process, and both with a small young
   * generation (--max-semi-space-size=1), and no spawner (STACKWIRE_SPAWNER=off unless set): the
   * local stack in the least memory.
   */
  layout?: 'shared' | 'per-role';
  log: (m: string) => void;
}): Promise<Processes> {
  const services: (Service & { readyLine: string })[] = [];
  const output = (name: string) => (o.logDir ? path.join(o.logDir, `${name}.log`) : process.stdout);
  if (o.logDir) fs.mkdirSync(o.logDir, { recursive: true });
  let inProcessApi: RunningApi | undefined;
  const stop = async () => {
    // API first (no new work), then workers (they finish running activities), in parallel.
    const api = services.filter((s) => s.name === 'api');
    await Promise.all([...api.map((s) => s.stop()), inProcessApi?.stop()]);
    await Promise.all(services.filter((s) => s.name !== 'api').map((s) => s.stop()));
  };
  const shared = o.layout === 'shared';
  try {
    const workers = shared
      ? [{ name: 'workers', args: ['--orchestrator', ...o.regions.flatMap((r) => ['--region', r])] }]
      : [{ name: 'orchestrator', args: ['--orchestrator'] }, ...o.regions.map((r) => ({ name: `worker-${r}`, args: ['--region', r] }))];
    services.push(
      ...(await Promise.all(
        workers.map((w) =>
          startService({
            name: w.name,
            command: NODE,
            args: [...(shared ? [SMALL_YOUNG_GENERATION] : []), WORKER_ENTRY, ...w.args, ...(o.workerMetrics ? ['--metrics-port', '0'] : [])],
            // The shared layout is the local stack in the least memory: no spawner unless asked for.
            env: shared ? { STACKWIRE_SPAWNER: 'off', ...o.env } : o.env,
            ready: /"message":"worker ready"/,
            output: output(w.name),
            filter: humanLine,
            ...(o.echo ? { echo: process.stdout } : {}),
          }),
        ),
      )),
    );
    let apiUrl: string;
    if (shared) {
      // Loaded only here: a per-role supervisor (npm test) does not carry the API's modules.
      const { startApi } = await import('../api/serve.js');
      const config = loadConfig(o.env);
      const file = o.logDir ? path.join(o.logDir, 'api.log') : undefined;
      const echo = o.echo
        ? (line: string) => {
            const shown = humanLine(line);
            if (shown !== undefined) process.stdout.write(`[api] ${shown}\n`);
          }
        : undefined;
      const logger = file
        ? createLogger('stackwire-api', config.logLevel, {}, { destination: file, ...(echo ? { echo } : {}) })
        : createLogger('stackwire-api', config.logLevel);
      inProcessApi = await startApi({ config, logger, port: o.apiPort, host: config.api.host });
      apiUrl = inProcessApi.url;
    } else {
      const api = await startService({
        name: 'api',
        command: NODE,
        args: [API_ENTRY, '--port', String(o.apiPort)],
        env: o.env,
        ready: /"event.action":"api-ready"/,
        output: output('api'),
        filter: humanLine,
        ...(o.echo ? { echo: process.stdout } : {}),
      });
      services.push(api);
      apiUrl = readyField(api.readyLine, 'url.full');
    }
    // By role (orchestrator, worker-<region>): in the shared layout, every role names the one process's endpoint.
    const roles = ['orchestrator', ...o.regions.map((r) => `worker-${r}`)];
    const urlOf = (role: string) => readyField(services.find((w) => w.name === role || w.name === 'workers')!.readyLine, 'stackwire.metrics_url');
    const workerMetrics = o.workerMetrics ? Object.fromEntries(roles.map((r) => [r, urlOf(r)])) : {};
    return { services, apiUrl, workerMetrics, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The local operator's admin key: the one in the credentials file when it still works against this
 * database, else a new one (never expiring, owner = the local user), written to the file (0600).
 */
export async function ensureLocalAdminKey(
  dbUrl: string,
  file: string,
  apiUrl: string,
  log: (m: string) => void,
): Promise<{ key: string; created: boolean; keyId: string }> {
  const pool = createPool(dbUrl, 1);
  try {
    const existing = readCredentials(file);
    const parsed = existing ? parseApiKey(existing.apiKey) : undefined;
    const row = parsed ? await getApiKey(pool, parsed.id) : undefined;
    if (
      existing &&
      parsed &&
      row &&
      row.role === 'admin' &&
      !row.revokedAt &&
      (!row.expiresAt || row.expiresAt.getTime() > Date.now()) &&
      (await secretMatches(parsed.secret, row.salt, row.hash))
    ) {
      writeCredentials(file, { apiUrl, apiKey: existing.apiKey });
      return { key: existing.apiKey, created: false, keyId: row.id };
    }
    const owner = os.userInfo().username || 'admin';
    const { row: created, key } = await createKey(
      { pool },
      { name: owner, role: 'admin', expiresInSeconds: null, createdBy: 'npm start', description: 'created by npm start for the local operator' },
    );
    writeCredentials(file, { apiUrl, apiKey: key });
    log(`api key: created an admin key ${created.id} for ${owner}, written to ${file} (mode 0600)`);
    return { key, created: true, keyId: created.id };
  } finally {
    await pool.end();
  }
}
