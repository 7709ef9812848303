/** What every router receives. */
import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { HttpDeps } from './http.js';
import type { ApiMetrics } from './metrics.js';
import type { TriggerRecord, TriggerRun } from '../common/api-types.js';
import type { NewTrigger } from '../db/triggers.js';

export interface ApiDeps {
  client: Client;
  pool: Pool;
  config: Config;
  logger: Logger;
  /** Counters the API keeps (api/metrics.ts); createApp makes its own when none is given. */
  metrics?: ApiMetrics;
}

export interface RouterDeps extends ApiDeps {
  metrics: ApiMetrics;
  http: HttpDeps;
  /** Matches trigger instances against the rules (in memory) and starts their runs. */
  dispatcher: TriggerSink;
}

/** What a dispatch did (api/trigger-dispatch.ts). */
export interface Dispatched {
  trigger: string;
  duplicate: boolean;
  matched: TriggerRecord['matched'];
  runs: TriggerRun[];
  note: string | null;
  /** What the built-in work said besides its runs (a push: the components), when it ran now. */
  extra?: Record<string, unknown>;
}

/** Where routes hand trigger instances (the dispatcher) and say the rules changed. */
export interface TriggerSink {
  receive(t: NewTrigger): Promise<Dispatched>;
  reload(): Promise<void>;
}
