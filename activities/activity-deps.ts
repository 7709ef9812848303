/** What every activity factory receives (activities/index.ts builds them once per worker role). */
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import type { RunLayout, RunUser } from '../lib/isolation.js';
import type { Logger } from '../lib/logger.js';
import type { PipSource } from '../lib/pack-venv.js';
import type { SensuClient } from '../lib/sensu.js';

export interface ActivityDeps {
  pool: Pool;
  region: string;
  /** Who runs the work: region@host/pid. Recorded on every execution. */
  identity: string;
  outputCapBytes: number;
  logger: Logger;
  /** Seconds between SIGTERM and SIGKILL when a run is stopped. */
  killGraceSeconds?: number;
  /** Where pack versions are materialised and runs get their working folders (STACKWIRE_RUN_DIR). */
  runLayout: RunLayout;
  /** The user scripts run as; undefined: the worker's own user. */
  runUser: RunUser | undefined;
  /** Which git sources ingest and `release --since` may fetch. */
  git: Config['git'];
  /** Folders path ingest may read. */
  ingestPaths: string[];
  /** Local state (Puppet-managed files of deployments live under it). */
  dataDir: string;
  /** The operator's Puppet modules (STACKWIRE_PUPPET_MODULEPATH); unset: stand-in role classes. */
  puppetModulePath?: string[] | undefined;
  /** The Sensu backend, when one is configured. */
  sensu: SensuClient | undefined;
  /** Opens sealed secret parameters (STACKWIRE_SECRET_KEY). */
  secretKey: Buffer | undefined;
  /** Keys of before a rotation (STACKWIRE_OLD_SECRET_KEYS): values they sealed still open. */
  oldSecretKeys?: Buffer[];
  /** The only part of the worker's environment scripts get (PATH, LANG, TZ); never its secrets. */
  scriptEnv: Record<string, string>;
  /** Where pip gets a StackStorm pack's requirements (STACKWIRE_PIP_FIND_LINKS, PIP_INDEX_URL). */
  pip?: PipSource | undefined;
}
