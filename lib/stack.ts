/**
 * Brings up a whole Stackwire stack: Temporal (a cluster or our dev server), Postgres (with
 * migrations and the given packs registered), the orchestrator and regional workers, the API.
 * Used by `npm start`, by the test runner and by the benchmarks, so all three run the same thing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { TemporalTls } from './config.js';
import proto from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES } from '../common/constants.js';
import { upsertActions, type UpsertOutcome } from '../db/actions.js';
import { migrate } from '../db/migrate.js';
import { manifestOf, recordPackVersion, storeBlobs } from '../db/packs.js';
import { createPool, type Pool } from '../db/pool.js';
import { walkTree } from '../ingest/walk.js';
import { BUILTIN_ACTIONS } from './builtins.js';
import { loadPack } from './packs.js';
import { startService, type Service } from './services.js';

import { API_ENTRY, NODE, WORKER_ENTRY } from './paths.js';

export { API_ENTRY, CLI_ENTRY, NODE, WORKER_ENTRY } from './paths.js';

/** Registers Stackwire's search attributes on a cluster; a no-op for those that exist. */
export async function ensureSearchAttributes(address: string, namespace: string, tls?: TemporalTls): Promise<void> {
  const conn = await Connection.connect({ address, ...(tls ? { tls } : {}) });
  try {
    const existing = await conn.operatorService.listSearchAttributes({ namespace });
    const missing = ALL_SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    await conn.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  } finally {
    await conn.close();
  }
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
    await storeBlobs(pool, files);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const ref = await recordPackVersion(client, pack, manifestOf(files), { kind: 'metadata', location: dir });
      out.push(
        ...(await upsertActions(
          client,
          actions.map((a) => ({ ...a, packRef: ref })),
          { removeMissingFromPacks: [pack] },
        )),
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
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
  services: Service[];
  apiUrl: string;
  stop(): Promise<void>;
}

/** Formats a worker's JSON log line for a terminal; undefined hides it. */
export function humanLine(line: string): string | undefined {
  if (!line.startsWith('{')) return line;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const level =
      typeof o.level === 'number'
        ? ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[o.level]
        : String(o.level);
    if (o.sdk && level === 'info') return undefined;
    const { level: _l, time: _t, pid: _p, service: _s, hostname: _h, msg, sdk: _sdk, region: _r, name: _n, event: _e, ...rest } = o;
    const extra = Object.entries(rest)
      .filter(([, v]) => v !== undefined && typeof v !== 'object')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    return `${level} ${String(msg)}${extra ? `  ${extra}` : ''}`;
  } catch {
    return line;
  }
}

export async function startProcesses(o: {
  env: NodeJS.ProcessEnv;
  regions: string[];
  apiPort: number;
  /** A folder for one log file per process, or undefined to print to the terminal. */
  logDir?: string;
  log: (m: string) => void;
}): Promise<Processes> {
  const services: Service[] = [];
  const output = (name: string) => (o.logDir ? path.join(o.logDir, `${name}.log`) : process.stdout);
  if (o.logDir) fs.mkdirSync(o.logDir, { recursive: true });
  const stop = async () => {
    // API first (no new work), then workers (they finish running activities), in parallel.
    const api = services.filter((s) => s.name === 'api');
    await Promise.all(api.map((s) => s.stop()));
    await Promise.all(services.filter((s) => s.name !== 'api').map((s) => s.stop()));
  };
  try {
    const workers = [{ name: 'orchestrator', args: ['--orchestrator'] }, ...o.regions.map((r) => ({ name: `worker-${r}`, args: ['--region', r] }))];
    services.push(
      ...(await Promise.all(
        workers.map((w) =>
          startService({
            name: w.name,
            command: NODE,
            args: [WORKER_ENTRY, ...w.args],
            env: o.env,
            ready: /worker ready/,
            output: output(w.name),
            filter: humanLine,
          }),
        ),
      )),
    );
    const api = await startService({
      name: 'api',
      command: NODE,
      args: [API_ENTRY, '--port', String(o.apiPort)],
      env: o.env,
      ready: /"event":"api ready"/,
      output: output('api'),
      filter: humanLine,
    });
    services.push(api);
    const apiUrl = (JSON.parse(api.readyLine.slice(api.readyLine.indexOf('{'))) as { url: string }).url;
    return { services, apiUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
