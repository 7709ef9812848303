/** What every router receives. */
import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { HttpDeps } from './http.js';
import type { TriggerDispatcher } from './trigger-dispatch.js';

export interface ApiDeps {
  client: Client;
  pool: Pool;
  config: Config;
  logger: Logger;
}

export interface RouterDeps extends ApiDeps {
  http: HttpDeps;
  /** Matches trigger instances against the rules (in memory) and starts their runs. */
  dispatcher: TriggerDispatcher;
}
