/** Migrations run in one transaction: a failing one leaves the schema exactly as it was. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import pg from 'pg';
import { MIGRATIONS_DIR, MigrationError, migrate } from '../db/migrate.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../db/provision.js';
import { API_ENTRY, NODE } from '../lib/paths.js';
import { ADMIN_DB_URL, uniqueName } from './helpers.js';

const name = uniqueName('stackwire_mig').replace(/-/g, '_');
const url = withDatabase(ADMIN_DB_URL, name);

test.before(async () => {
  await ensureDatabase(ADMIN_DB_URL, name);
});
test.after.always(async () => {
  await dropDatabase(ADMIN_DB_URL, name);
});

async function tables(): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    return rows.map((r) => r.tablename);
  } finally {
    await c.end();
  }
}

test.serial('a failing migration changes nothing; the fixed set applies; a second run is a no-op', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-migrations-'));
  for (const f of fs.readdirSync(MIGRATIONS_DIR)) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  fs.writeFileSync(
    path.join(dir, '9999999999999_broken.sql'),
    '-- Up Migration\nCREATE TABLE half_done (id int);\nALTER TABLE no_such_table ADD COLUMN x int;\n',
  );
  const err = await t.throwsAsync(migrate(url, { dir }), { instanceOf: MigrationError });
  t.regex(err.message, /database migration failed, nothing was changed: .*no_such_table/);
  // Only node-pg-migrate's own bookkeeping table exists: not even the migrations before the broken one were kept.
  t.deepEqual(await tables(), ['pgmigrations']);

  const ok = await migrate(url);
  t.true(ok.applied.length >= 1);
  t.deepEqual(await tables(), [
    'actions',
    'api_keys',
    'audit_log',
    'blobs',
    'components',
    'datastore',
    'dependencies',
    'deployments',
    'environments',
    'execution_logs',
    'executions',
    'ingest_items',
    'ingests',
    'pack_config',
    'pack_versions',
    'packs',
    'pgmigrations',
    'placements',
    'regions',
    'rule_versions',
    'rules',
    'sot_secrets',
    'trigger_runs',
    'triggers',
    'webhooks',
  ]);
  t.deepEqual((await migrate(url)).applied, []);
});

test('stackwire-api --migrate brings a new database up to date with the built-in actions, and says so; again, it has nothing to do', async (t) => {
  const db = uniqueName('stackwire_migcli').replace(/-/g, '_');
  await ensureDatabase(ADMIN_DB_URL, db);
  try {
    const run = () =>
      spawnSync(NODE, [API_ENTRY, '--migrate', '--json'], {
        encoding: 'utf8',
        env: { ...process.env, DATABASE_URL: withDatabase(ADMIN_DB_URL, db) },
        timeout: 60_000,
      });
    const first = run();
    t.is(first.status, 0, first.stderr);
    const out = JSON.parse(first.stdout) as { applied: string[]; builtins: string[] };
    t.deepEqual(
      out.applied,
      fs
        .readdirSync(MIGRATIONS_DIR)
        .map((f) => f.replace(/\.sql$/, ''))
        .sort(),
    );
    t.deepEqual(out.builtins, ['core.ingest v1 (added)']);
    const again = run();
    t.is(again.status, 0, again.stderr);
    t.deepEqual(JSON.parse(again.stdout), { applied: [], builtins: ['core.ingest v1 (unchanged)'] });
    const plain = spawnSync(NODE, [API_ENTRY, '--migrate'], {
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: withDatabase(ADMIN_DB_URL, db) },
      timeout: 60_000,
    });
    t.regex(plain.stdout, /^the schema is up to date: no migration to apply\nbuilt-in actions: core\.ingest v1 \(unchanged\)\n$/);
  } finally {
    await dropDatabase(ADMIN_DB_URL, db);
  }
});
