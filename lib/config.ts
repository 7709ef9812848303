/**
 * The one place that reads the environment. Every other module receives a `Config`.
 * Each variable is validated at start-up; a bad value stops the process with a message that
 * names the variable, what was wrong and what to do.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGION } from '../common/validation.js';
import { ConfigError, bool, int, optional, str, type Env } from './config-values.js';
import {
  cliConfig,
  codecCorsOrigins,
  oldSecretKeys,
  secretKey,
  temporalTls,
  webUiUrl,
  webhookSecret,
  type CliConfig,
  type TemporalTls,
} from './config-security.js';

import { workerConfig, type WorkerConfig } from './config-worker.js';

export type { CliConfig, TemporalTls } from './config-security.js';
export type { WorkerConfig } from './config-worker.js';

export { ConfigError } from './config-values.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Config {
  /** Folder for local state (Temporal's SQLite file, embedded Postgres, logs). Git-ignored. */
  dataDir: string;
  /** Per-user cache (the Temporal CLI build lives here, shared by every clone). */
  cacheDir: string;
  temporal: {
    /** host:port of an existing cluster; when set, Stackwire starts no Temporal server. */
    address: string | undefined;
    namespace: string;
    /**
     * What `npm start` runs when no address is given (STACKWIRE_TEMPORAL_ENGINE): `dev`, the CLI's dev
     * server (SQLite, with the Web UI); `server`, the full Temporal server on PostgreSQL (lib/temporal-server.ts).
     */
    engine: 'dev' | 'server';
    /** Port of the dev server that `npm start` runs when no address is given (the full server's frontend, the seven after it its others). */
    devPort: number;
    devUiPort: number;
    /** Explicit path to a `temporal` CLI binary (skips discovery). */
    cliPath: string | undefined;
    /** TLS (mTLS when a client certificate is given) to the cluster in TEMPORAL_ADDRESS; unset: plain gRPC. */
    tls: TemporalTls | undefined;
  };
  database: {
    /** Explicit connection string; wins over everything else. */
    url: string | undefined;
    /** Where to look for a running server when no URL is given. */
    localHost: string;
    localPort: number;
    /** Database created and used on the local or embedded server. */
    name: string;
    /** Port for the embedded Postgres started when no server answers. */
    embeddedPort: number;
  };
  api: {
    host: string;
    port: number;
    /** Base URL the CLI talks to. */
    url: string;
    /** Longest a GET with ?wait= may hold the request open. */
    maxWaitSeconds: number;
    /** Mutating requests a minute per API key, unless the key has its own limit. */
    rateLimitPerMinute: number;
    /** Browser origins (the Temporal Web UI) allowed to call the codec endpoint (STACKWIRE_CODEC_CORS_ORIGINS). */
    codecCorsOrigins: string[];
    /**
     * The Temporal Web UI the API serves at /ui (STACKWIRE_WEB_UI_URL), started with public path /ui;
     * npm start's dev server by default; undefined: /ui answers 404 saying so.
     */
    webUiUrl: string | undefined;
    /** How long a Web UI sign-in lasts (STACKWIRE_WEB_SESSION_TTL, seconds). */
    webSessionSeconds: number;
    /** The secret GitHub signs its webhook deliveries with (STACKWIRE_GITHUB_WEBHOOK_SECRET); unset: the webhook answers 503. */
    githubWebhookSecret: string | undefined;
    /** GET /metrics without an API key (STACKWIRE_METRICS_PUBLIC); by default it needs a key with metrics.read (viewer). */
    metricsPublic: boolean;
  };
  regions: string[];
  worker: WorkerConfig;
  /**
   * AES-256 key (STACKWIRE_SECRET_KEY) that encrypts every Temporal payload (lib/payload-codec.ts) and seals
   * secret parameters. Required by every process that talks to Temporal.
   */
  secretKey: Buffer | undefined;
  /** Previous keys (STACKWIRE_OLD_SECRET_KEYS), for decryption only: what they encrypted stays readable after a rotation. */
  oldSecretKeys: Buffer[];
  /**
   * The only part of our environment a child process (script, puppet, check, git) gets: PATH, LANG and
   * TZ. An allow-list: nothing else of the worker's environment (DATABASE_URL, keys, TEMPORAL_*) passes.
   */
  scriptEnv: Record<string, string>;
  /** How scripts are kept apart from the worker (README: Scripts isolated). */
  isolation: {
    /** The user scripts run as (STACKWIRE_RUN_AS); undefined: the worker's own user. Resolved at worker start. */
    runAs: string | undefined;
    /** Pack files and per-run working folders (STACKWIRE_RUN_DIR): readable by the run user, outside the data folder. */
    runDir: string;
  };
  /** Which git sources workers fetch (ingest, release --since) and for how long. */
  git: { allowedHosts: string[]; allowFile: boolean; timeoutSeconds: number };
  /** Folders on a worker that path ingest may read (STACKWIRE_INGEST_PATHS); empty: path ingest is refused. */
  ingestPaths: string[];
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** What the `stackwire` command authenticates with (read by the CLI only). */
  cli: CliConfig;
  /** A Sensu Go backend for silences and events; unset, deploys run checks without telling Sensu. */
  sensu: { url: string; apiKey: string; namespace: string } | undefined;
  /** Where the workers find the operator's Puppet modules (role classes); unset: a stand-in class per role. */
  puppetModulePath: string[] | undefined;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function parseRegions(raw: string, source: string): string[] {
  const regions = raw
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  if (regions.length === 0) throw new ConfigError(`${source} lists no region. Give a comma-separated list such as "us-east,eu-west".`);
  for (const r of regions) {
    if (!REGION.test(r)) {
      throw new ConfigError(`${source}: region ${JSON.stringify(r)} is not a valid name. Use lower-case letters, digits and dashes, e.g. "us-east".`);
    }
  }
  const dup = regions.find((r, i) => regions.indexOf(r) !== i);
  if (dup) throw new ConfigError(`${source}: region ${JSON.stringify(dup)} is listed twice.`);
  return regions;
}

function puppetModulePath(env: Env): string[] | undefined {
  const raw = optional(env, 'STACKWIRE_PUPPET_MODULEPATH');
  if (!raw) return undefined;
  const dirs = raw.split(':').filter((d) => d !== '');
  for (const d of dirs) {
    if (!path.isAbsolute(d))
      throw new ConfigError(
        `STACKWIRE_PUPPET_MODULEPATH: ${JSON.stringify(d)} is not an absolute path; list module folders separated by ":", e.g. /etc/puppetlabs/code/environments/production/modules.`,
      );
  }
  return dirs;
}

function absolutePaths(env: Env, name: string, example: string): string[] {
  const raw = optional(env, name);
  if (!raw) return [];
  const dirs = raw.split(':').filter((d) => d !== '');
  for (const d of dirs) {
    if (!path.isAbsolute(d)) throw new ConfigError(`${name}: ${JSON.stringify(d)} is not an absolute path; list folders separated by ":", e.g. ${example}.`);
  }
  return dirs.map((d) => path.resolve(d));
}

const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/i;
const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$/;

function isolationConfig(env: Env, dataDir: string, cacheDir: string): Config['isolation'] {
  const root = process.getuid?.() === 0;
  const runAs = optional(env, 'STACKWIRE_RUN_AS');
  if (runAs !== undefined && !USER_RE.test(runAs))
    throw new ConfigError(`STACKWIRE_RUN_AS=${JSON.stringify(runAs)} is not a user name. Give the name of an unprivileged user, e.g. stackwire-run.`);
  const rawRunDir = optional(env, 'STACKWIRE_RUN_DIR');
  if (rawRunDir !== undefined && !path.isAbsolute(rawRunDir))
    throw new ConfigError(`STACKWIRE_RUN_DIR=${JSON.stringify(rawRunDir)} is not an absolute path; give a folder such as /var/lib/stackwire.`);
  const runDir = path.resolve(rawRunDir ?? (root ? '/var/lib/stackwire' : path.join(cacheDir, 'run')));
  if (runDir === dataDir || runDir.startsWith(dataDir + path.sep))
    throw new ConfigError(
      `STACKWIRE_RUN_DIR=${runDir} is inside the data folder ${dataDir}, which scripts must not be able to read; choose a folder outside it, e.g. /var/lib/stackwire.`,
    );
  return { runAs: runAs ?? (root ? 'stackwire-run' : undefined), runDir };
}

function gitConfig(env: Env): Config['git'] {
  const hosts = str(env, 'STACKWIRE_GIT_ALLOWED_HOSTS', '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  for (const h of hosts)
    if (!HOSTNAME_RE.test(h))
      throw new ConfigError(
        `STACKWIRE_GIT_ALLOWED_HOSTS: ${JSON.stringify(h)} is not a host name; list host names separated by commas, e.g. github.com,git.example.com.`,
      );
  return {
    allowedHosts: hosts,
    allowFile: bool(env, 'STACKWIRE_GIT_ALLOW_FILE', false),
    timeoutSeconds: int(env, 'STACKWIRE_GIT_TIMEOUT', 300, 1, 86400),
  };
}

function sensuConfig(env: Env): Config['sensu'] {
  const url = optional(env, 'SENSU_API_URL');
  if (!url) return undefined;
  if (!/^https?:\/\//.test(url))
    throw new ConfigError(`SENSU_API_URL=${JSON.stringify(url)} must be an http(s) URL of the Sensu Go backend API, e.g. https://sensu.example.com:8080.`);
  const apiKey = optional(env, 'SENSU_API_KEY');
  if (!apiKey) throw new ConfigError('SENSU_API_URL is set but SENSU_API_KEY is not: create an API key in Sensu (sensuctl api-key grant <user>) and set it.');
  return { url, apiKey, namespace: str(env, 'SENSU_NAMESPACE', 'default') };
}

export function loadConfig(env: Env = process.env): Config {
  const home = env.HOME ?? os.homedir();
  const cacheBase = optional(env, 'XDG_CACHE_HOME') ?? path.join(home, '.cache');
  const apiHost = str(env, 'STACKWIRE_API_HOST', '127.0.0.1');
  const apiPort = int(env, 'STACKWIRE_API_PORT', 7380, 0, 65535);
  const address = optional(env, 'TEMPORAL_ADDRESS');
  if (address !== undefined && !/^[^\s:]+:\d+$/.test(address)) {
    throw new ConfigError(
      `TEMPORAL_ADDRESS=${JSON.stringify(address)} is not host:port. Set it like "temporal.example.com:7233", or unset it to run a local dev server.`,
    );
  }
  const engine = str(env, 'STACKWIRE_TEMPORAL_ENGINE', 'dev');
  if (engine !== 'dev' && engine !== 'server')
    throw new ConfigError(
      `STACKWIRE_TEMPORAL_ENGINE=${JSON.stringify(engine)} is not an engine. Use dev (the Temporal dev server, the default) or server (the full Temporal server on PostgreSQL).`,
    );
  if (engine === 'server' && address !== undefined)
    throw new ConfigError(
      `STACKWIRE_TEMPORAL_ENGINE=server (npm start -- --engine server) starts a Temporal server, but TEMPORAL_ADDRESS=${address} names a running one. Unset one of them.`,
    );
  const dbUrl = optional(env, 'DATABASE_URL');
  if (dbUrl !== undefined && !/^postgres(ql)?:\/\//.test(dbUrl)) {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql:// (got a value starting with ${JSON.stringify(dbUrl.slice(0, 12))}).`);
  }
  const logLevel = str(env, 'STACKWIRE_LOG_LEVEL', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`STACKWIRE_LOG_LEVEL=${JSON.stringify(logLevel)} is not a level. Use one of ${LOG_LEVELS.join(', ')}.`);
  }
  const dbName = str(env, 'STACKWIRE_DATABASE', 'stackwire');
  const devUiPort = int(env, 'STACKWIRE_TEMPORAL_UI_PORT', 8233, 1, 65535);
  const key = secretKey(env);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(dbName)) {
    throw new ConfigError(`STACKWIRE_DATABASE=${JSON.stringify(dbName)} is not a plain database name. Use lower-case letters, digits and underscores.`);
  }
  const dataDir = path.resolve(str(env, 'STACKWIRE_DATA_DIR', path.join(PROJECT_ROOT, '.data')));
  const regions = parseRegions(str(env, 'STACKWIRE_REGIONS', 'us-east,eu-west'), 'STACKWIRE_REGIONS');
  const cacheDir = path.resolve(str(env, 'STACKWIRE_CACHE_DIR', path.join(cacheBase, 'stackwire')));
  return {
    dataDir,
    cacheDir,
    temporal: {
      address,
      namespace: str(env, 'TEMPORAL_NAMESPACE', 'default'),
      engine,
      devPort: int(env, 'STACKWIRE_TEMPORAL_PORT', 7233, 1, 65535),
      devUiPort,
      cliPath: optional(env, 'STACKWIRE_TEMPORAL_CLI'),
      tls: temporalTls(env, address),
    },
    database: {
      url: dbUrl,
      localHost: str(env, 'STACKWIRE_PG_HOST', '127.0.0.1'),
      localPort: int(env, 'STACKWIRE_PG_PORT', 5432, 1, 65535),
      name: dbName,
      embeddedPort: int(env, 'STACKWIRE_EMBEDDED_PG_PORT', 54329, 1, 65535),
    },
    api: {
      host: apiHost,
      port: apiPort,
      url: str(env, 'STACKWIRE_API_URL', `http://${apiHost}:${apiPort}`).replace(/\/+$/, ''),
      maxWaitSeconds: int(env, 'STACKWIRE_API_MAX_WAIT', 60, 0, 3600),
      rateLimitPerMinute: int(env, 'STACKWIRE_API_RATE_LIMIT', 600, 1, 1_000_000),
      codecCorsOrigins: codecCorsOrigins(env, devUiPort),
      // The dev server serves a Web UI; the full server has none (its UI is a separate program).
      webUiUrl: webUiUrl(env, address === undefined && engine === 'dev' ? `http://127.0.0.1:${devUiPort}` : undefined),
      webSessionSeconds: int(env, 'STACKWIRE_WEB_SESSION_TTL', 8 * 3600, 60, 7 * 86400),
      githubWebhookSecret: webhookSecret(env, 'STACKWIRE_GITHUB_WEBHOOK_SECRET'),
      metricsPublic: bool(env, 'STACKWIRE_METRICS_PUBLIC', false),
    },
    regions,
    worker: workerConfig(env, regions),
    secretKey: key,
    oldSecretKeys: oldSecretKeys(env, key),
    scriptEnv: {
      // The machine's PATH without what `npm start`/`npm test` put in front of it (node_modules/.bin,
      // npm's node-gyp-bin): scripts and system tools must not find the project's dev tools first.
      PATH:
        str(env, 'PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
          .split(':')
          .filter((d) => d !== '' && !/[\\/]node_modules[\\/]\.bin$|[\\/]node-gyp-bin$/.test(d))
          .join(':') || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ...Object.fromEntries(['LANG', 'TZ'].flatMap((k) => (env[k] ? [[k, env[k]]] : []))),
    },
    isolation: isolationConfig(env, dataDir, cacheDir),
    git: gitConfig(env),
    ingestPaths: absolutePaths(env, 'STACKWIRE_INGEST_PATHS', '/srv/packs:/opt/scripts'),
    logLevel: logLevel as Config['logLevel'],
    cli: cliConfig(env, home),
    sensu: sensuConfig(env),
    puppetModulePath: puppetModulePath(env),
  };
}

/** Where Temporal is: the configured cluster, or the local dev server `npm start` runs. */
export function temporalAddress(config: Config): string {
  return config.temporal.address ?? `127.0.0.1:${config.temporal.devPort}`;
}

/** The database URL a worker or the API uses when none was provisioned for it. */
export function databaseUrl(config: Config): string {
  return config.database.url ?? `postgres://postgres@${config.database.localHost}:${config.database.localPort}/${config.database.name}`;
}

/** The environment a child process of ours should get: ours, plus overrides. */
export function childEnv(overrides: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...process.env, ...overrides };
}

/** An environment variable the operator names on a command line (`--secret-env NAME`): read here, as every other. */
export function namedEnvValue(name: string, env: Env = process.env): string | undefined {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? env[name] : undefined;
}
