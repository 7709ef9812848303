/**
 * The API server's life: a Temporal client, a database pool, the Express app and its trigger
 * dispatcher, listening on host:port until stopped. Run by api/server.ts (its own process) or, in
 * the local stack's shared layout, inside `npm start`'s supervisor (scripts/stack.ts).
 */
import type { AddressInfo } from 'node:net';
import { createPool } from '../db/pool.js';
import { type Config, databaseUrl } from '../lib/config.js';
import { createTemporalClient } from '../lib/temporal-client.js';
import type { Logger } from '../lib/logger.js';
import { createApp } from './app.js';
import { ApiMetrics } from './metrics.js';
import type { TriggerDispatcher } from './trigger-dispatch.js';

export interface RunningApi {
  url: string;
  /** Stops taking requests, lets the dispatcher finish, closes the pool and the Temporal connection. */
  stop(): Promise<void>;
}

export async function startApi(o: { config: Config; logger: Logger; port: number; host: string }): Promise<RunningApi> {
  const { config, logger } = o;
  const metrics = new ApiMetrics();
  const client = await createTemporalClient(config, { interceptors: [metrics.clientInterceptor()] });
  const pool = createPool(databaseUrl(config));
  const app = createApp({ client, pool, config, logger, metrics });
  const dispatcher = app.locals.dispatcher as TriggerDispatcher;
  await dispatcher.start();
  const server = app.listen(o.port, o.host);
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
  return {
    url,
    stop: async () => {
      logger.info({ event: 'api-stopping' }, 'api stopping');
      await dispatcher.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await pool.end();
      await client.connection.close();
    },
  };
}
