/**
 * The one place that reads the environment. Every other module receives a `Config`.
 * Each variable is validated at start-up; a bad value stops the process with a message that
 * names the variable, what was wrong and what to do.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGION } from '../common/validation.js';

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
    /** Port of the dev server that `npm start` runs when no address is given. */
    devPort: number;
    devUiPort: number;
    /** Explicit path to a `temporal` CLI binary (skips discovery). */
    cliPath: string | undefined;
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
  };
  regions: string[];
  worker: {
    shutdownGraceSeconds: number;
    /** Bytes of stdout and of stderr kept per execution. */
    outputCapBytes: number;
    maxConcurrentActivities: number;
  };
  /** AES-256 key that seals secret parameters between the API and the workers (STACKWIRE_SECRET_KEY). */
  secretKey: Buffer | undefined;
  /** The part of our environment that scripts inherit: PATH, HOME, LANG, TZ, TMPDIR — no secrets. */
  scriptEnv: Record<string, string>;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** What the `stackwire` command authenticates with (read by the CLI only). */
  cli: {
    /** STACKWIRE_API_KEY; when unset the key comes from the credentials file. */
    apiKey: string | undefined;
    /** STACKWIRE_API_URL as given (unset: the credentials file's apiUrl, else api.url). */
    apiUrl: string | undefined;
    /** STACKWIRE_CREDENTIALS, else $XDG_CONFIG_HOME/stackwire/credentials.json (~/.config/…). */
    credentialsFile: string;
  };
  /** A Sensu Go backend for silences and events; unset, deploys run checks without telling Sensu. */
  sensu: { url: string; apiKey: string; namespace: string } | undefined;
  /** Where the workers find the operator's Puppet modules (role classes); unset: a stand-in class per role. */
  puppetModulePath: string[] | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function optional(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number. Set it to a number from ${min} to ${max}, or unset it to use ${fallback}.`);
  }
  const n = Number(raw.trim());
  if (n < min || n > max) {
    throw new ConfigError(`${name}=${n} is out of range. Set it to a number from ${min} to ${max}, or unset it to use ${fallback}.`);
  }
  return n;
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

function sensuConfig(env: Env): Config['sensu'] {
  const url = optional(env, 'SENSU_API_URL');
  if (!url) return undefined;
  if (!/^https?:\/\//.test(url))
    throw new ConfigError(`SENSU_API_URL=${JSON.stringify(url)} must be an http(s) URL of the Sensu Go backend API, e.g. https://sensu.example.com:8080.`);
  const apiKey = optional(env, 'SENSU_API_KEY');
  if (!apiKey) throw new ConfigError('SENSU_API_URL is set but SENSU_API_KEY is not: create an API key in Sensu (sensuctl api-key grant <user>) and set it.');
  return { url, apiKey, namespace: str(env, 'SENSU_NAMESPACE', 'default') };
}

function secretKey(env: Env): Buffer | undefined {
  const raw = optional(env, 'STACKWIRE_SECRET_KEY');
  if (raw === undefined) return undefined;
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(
      `STACKWIRE_SECRET_KEY must be 32 random bytes in base64 (got ${key.length} bytes). Make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`,
    );
  }
  return key;
}

function cliConfig(env: Env, home: string): Config['cli'] {
  const apiKey = optional(env, 'STACKWIRE_API_KEY');
  if (apiKey !== undefined && !/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new ConfigError(
      'STACKWIRE_API_KEY holds spaces, line breaks or non-ASCII characters, so it is not a key as `stackwire apikey create` prints it. Set it to the key alone, or unset it to use the credentials file.',
    );
  }
  const explicit = optional(env, 'STACKWIRE_CREDENTIALS');
  if (explicit !== undefined && !path.isAbsolute(explicit)) {
    throw new ConfigError(
      `STACKWIRE_CREDENTIALS=${JSON.stringify(explicit)} is not an absolute path. Give the full path of the credentials file, e.g. ${path.join(home, '.config', 'stackwire', 'credentials.json')}.`,
    );
  }
  // XDG: a relative XDG_CONFIG_HOME is invalid and ignored.
  const xdg = optional(env, 'XDG_CONFIG_HOME');
  const configBase = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.config');
  const apiUrl = optional(env, 'STACKWIRE_API_URL');
  return { apiKey, apiUrl: apiUrl?.replace(/\/+$/, ''), credentialsFile: explicit ?? path.join(configBase, 'stackwire', 'credentials.json') };
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
  const dbUrl = optional(env, 'DATABASE_URL');
  if (dbUrl !== undefined && !/^postgres(ql)?:\/\//.test(dbUrl)) {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql:// (got a value starting with ${JSON.stringify(dbUrl.slice(0, 12))}).`);
  }
  const logLevel = str(env, 'STACKWIRE_LOG_LEVEL', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`STACKWIRE_LOG_LEVEL=${JSON.stringify(logLevel)} is not a level. Use one of ${LOG_LEVELS.join(', ')}.`);
  }
  const dbName = str(env, 'STACKWIRE_DATABASE', 'stackwire');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(dbName)) {
    throw new ConfigError(`STACKWIRE_DATABASE=${JSON.stringify(dbName)} is not a plain database name. Use lower-case letters, digits and underscores.`);
  }
  return {
    dataDir: path.resolve(str(env, 'STACKWIRE_DATA_DIR', path.join(PROJECT_ROOT, '.data'))),
    cacheDir: path.resolve(str(env, 'STACKWIRE_CACHE_DIR', path.join(cacheBase, 'stackwire'))),
    temporal: {
      address,
      namespace: str(env, 'TEMPORAL_NAMESPACE', 'default'),
      devPort: int(env, 'STACKWIRE_TEMPORAL_PORT', 7233, 1, 65535),
      devUiPort: int(env, 'STACKWIRE_TEMPORAL_UI_PORT', 8233, 1, 65535),
      cliPath: optional(env, 'STACKWIRE_TEMPORAL_CLI'),
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
    },
    regions: parseRegions(str(env, 'STACKWIRE_REGIONS', 'us-east,eu-west'), 'STACKWIRE_REGIONS'),
    worker: {
      shutdownGraceSeconds: int(env, 'STACKWIRE_SHUTDOWN_GRACE', 30, 0, 86400),
      outputCapBytes: int(env, 'STACKWIRE_OUTPUT_CAP', 65536, 1024, 16 * 1024 * 1024),
      maxConcurrentActivities: int(env, 'STACKWIRE_MAX_CONCURRENT_ACTIVITIES', 50, 1, 10000),
    },
    secretKey: secretKey(env),
    scriptEnv: Object.fromEntries(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER'].flatMap((k) => (env[k] !== undefined ? [[k, env[k]]] : []))),
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
