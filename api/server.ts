/** API entrypoint: node dist/api/server.js [--port N] */
import { parseArgs } from 'node:util';
import { createPool } from '../db/pool.js';
import { ConfigError, databaseUrl, loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { createKey } from './apikeys.js';
import { upsertActions } from '../db/actions.js';
import { migrate, MigrationError } from '../db/migrate.js';
import { BUILTIN_ACTIONS } from '../lib/builtins.js';
import { startApi } from './serve.js';

const HELP = `Usage: stackwire-api [--port N] [--host H] [--json]
       stackwire-api --create-admin-key <owner> [--json]
       stackwire-api --migrate [--json]

Serves the Stackwire HTTP API (see README for the endpoints).
  --port N    listen port (default STACKWIRE_API_PORT or 7380; 0 picks a free one)
  --host H    listen address (default STACKWIRE_API_HOST or 127.0.0.1)
  --json      print the ready line as JSON
  --create-admin-key <owner>
              create an admin API key for <owner> in the database (DATABASE_URL), print it once
              and exit: how the first key of a new installation is made, on the API's host
  --migrate   apply the database's pending migrations (all in one transaction) and register the
              built-in actions, then exit: run it once before starting a new version's processes
  -h, --help  show this help`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'create-admin-key': { type: 'string' },
        migrate: { type: 'boolean' },
      },
    }));
  } catch (err) {
    process.stderr.write(`stackwire-api: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const config = loadConfig();
  if (values.migrate) {
    const url = databaseUrl(config);
    const { applied } = await migrate(url);
    const keyPool = createPool(url, 1);
    try {
      const builtins = await upsertActions(keyPool, BUILTIN_ACTIONS);
      const out = { applied, builtins: builtins.map((b) => `${b.name} v${b.version} (${b.change})`) };
      process.stdout.write(
        values.json
          ? `${JSON.stringify(out)}\n`
          : `${applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'the schema is up to date: no migration to apply'}\nbuilt-in actions: ${out.builtins.join(', ')}\n`,
      );
      return 0;
    } finally {
      await keyPool.end();
    }
  }
  const owner = values['create-admin-key'];
  if (owner !== undefined) {
    if (!/^[\w.@-]{1,100}$/.test(owner)) {
      process.stderr.write(`stackwire-api: --create-admin-key ${JSON.stringify(owner)}: an owner is 1-100 letters, digits and . _ @ -.\n`);
      return 2;
    }
    const keyPool = createPool(databaseUrl(config), 1);
    try {
      const { row, key } = await createKey({ pool: keyPool }, { name: owner, role: 'admin', createdBy: 'stackwire-api --create-admin-key' });
      const out = { id: row.id, name: row.name, role: row.role, expiresAt: row.expiresAt?.toISOString() ?? null, key };
      process.stdout.write(
        values.json ? `${JSON.stringify(out)}\n` : `admin key ${row.id} for ${owner} (expires ${out.expiresAt ?? 'never'}); shown only this once:\n${key}\n`,
      );
      return 0;
    } finally {
      await keyPool.end();
    }
  }
  const logger = createLogger('stackwire-api', config.logLevel);
  const port = values.port !== undefined ? Number(values.port) : config.api.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`stackwire-api: --port ${values.port} is not a port number (0-65535).\n`);
    return 2;
  }
  const host = values.host ?? config.api.host;
  const api = await startApi({ config, logger, port, host });
  if (values.json) process.stdout.write(`${JSON.stringify({ event: 'api ready', url: api.url })}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await api.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`stackwire-api: configuration error: ${err.message}\n`);
    else if (err instanceof MigrationError) process.stderr.write(`stackwire-api: ${err.message}\n`);
    else process.stderr.write(`stackwire-api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
