/**
 * The full Temporal server's two databases (history and visibility), created and brought to the
 * schema of the pinned server version with its own SQL tool — idempotently: a database that has the
 * schema gets only the versions it lacks (none, usually).
 */
import pg from 'pg';
import { runProcess } from '../lib/spawn.js';
import { TEMPORAL_SERVER_VERSION, type TemporalServerBinaries } from '../lib/temporal-server.js';
import { ensureDatabase, withDatabase } from './provision.js';

/** The Temporal server's databases beside Stackwire's: `<name>_temporal` and `<name>_temporal_visibility`. */
export function temporalDatabaseNames(stackwireDatabase: string): { name: string; visibilityName: string } {
  return { name: `${stackwireDatabase}_temporal`, visibilityName: `${stackwireDatabase}_temporal_visibility` };
}

async function hasSchema(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('public.schema_version')::text AS t");
    return rows[0]?.t != null;
  } finally {
    await client.end();
  }
}

/** Where the server reaches a Postgres given by URL: host, port, user, password. */
export function serverDatabase(url: string): { host: string; port: number; user: string; password: string } {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username) || 'postgres',
    password: decodeURIComponent(u.password),
  };
}

export async function setupTemporalSchema(o: {
  binaries: TemporalServerBinaries;
  /** Any database on the Postgres server (the databases are created from it). */
  adminUrl: string;
  names: { name: string; visibilityName: string };
  log: (m: string) => void;
}): Promise<void> {
  const db = serverDatabase(o.adminUrl);
  for (const [name, kind] of [
    [o.names.name, 'temporal'],
    [o.names.visibilityName, 'visibility'],
  ] as const) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Temporal database name ${JSON.stringify(name)} is not a plain database name`);
    await ensureDatabase(o.adminUrl, name);
    const fresh = !(await hasSchema(withDatabase(o.adminUrl, name)));
    const base = [o.binaries.sqlTool, '--plugin', 'postgres12', '--ep', db.host, '-p', String(db.port), '-u', db.user, '--db', name];
    const steps = [...(fresh ? [['setup-schema', '-v', '0.0']] : []), ['update-schema', '-d', `${o.binaries.schemaDir}/${kind}/versioned`]];
    for (const step of steps) {
      // The password by environment, not argv (every user can read a command line).
      const r = await runProcess({ argv: [...base, ...step], env: { PATH: '/usr/bin:/bin', SQL_PASSWORD: db.password }, timeoutMs: 300_000, lifeline: false });
      if (r.code !== 0)
        throw new Error(
          `temporal-sql-tool ${step[0]} on database ${name} failed (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-10).join('\n')}`,
        );
    }
    o.log(`temporal-server: database ${name} ${fresh ? 'created with' : 'checked against'} the ${kind} schema of v${TEMPORAL_SERVER_VERSION}`);
  }
}
