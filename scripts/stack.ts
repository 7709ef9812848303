/**
 * Brings up a whole Stackwire stack: Temporal (a cluster or our dev server), Postgres (with
 * migrations and the given packs registered), the orchestrator and regional workers, the API.
 * Used by `npm start`, by the test runner and by the benchmarks, so all three run the same thing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { TemporalTls } from '../lib/config.js';
import proto from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES } from '../common/constants.js';
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

export { API_ENTRY, CLI_ENTRY, NODE, WORKER_ENTRY } from '../lib/paths.js';

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
