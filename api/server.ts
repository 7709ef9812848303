/** API entrypoint: node dist/api/server.js [--port N] */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createPool } from '../db/pool.js';
import { ConfigError, databaseUrl, loadConfig } from '../lib/config.js';
import { createTemporalClient } from '../lib/temporal-client.js';
import { createLogger } from '../lib/logger.js';
import { createApp } from './app.js';
import { ApiMetrics } from './metrics.js';
import { createKey } from './apikeys.js';
import type { TriggerDispatcher } from './trigger-dispatch.js';

const HELP = `Usage: stackwire-api [--port N] [--host H] [--json]
       stackwire-api --create-admin-key <owner> [--json]

Serves the Stackwire HTTP API (see README for the endpoints).
  --port N    listen port (default STACKWIRE_API_PORT or 7380; 0 picks a free one)
  --host H    listen address (default STACKWIRE_API_HOST or 127.0.0.1)
  --json      print the ready line as JSON
  --create-admin-key <owner>
              create an admin API key for <owner> in the database (DATABASE_URL), print it once
              and exit: how the first key of a new installation is made, on the API's host
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
  const metrics = new ApiMetrics();
  const client = await createTemporalClient(config, { interceptors: [metrics.clientInterceptor()] });
  const pool = createPool(databaseUrl(config));
  const app = createApp({ client, pool, config, logger, metrics });
  const dispatcher = app.locals.dispatcher as TriggerDispatcher;
  await dispatcher.start();
  const server = app.listen(port, host);
  // Idle keep-alive connections stay open longer than any client's (undici's 4 s, load balancers' 60 s):
  // a server that closes first races a request being written on the same socket ("fetch failed").
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address}:${addr.port}`;
  logger.info({ event: 'api-ready', 'url.full': url }, 'api ready');
  if (values.json) process.stdout.write(`${JSON.stringify({ event: 'api ready', url })}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info({ event: 'api-stopping' }, 'api stopping');
  await dispatcher.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await pool.end();
  await client.connection.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`stackwire-api: configuration error: ${err.message}\n`);
    else process.stderr.write(`stackwire-api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
