/**
 * The full Temporal server on PostgreSQL — the production engine, beside the dev server
 * (lib/dev-server.ts). Obtained like the CLI (lib/temporal-cli.ts): a build of the pinned Go module
 * with the machine's Go, kept in the per-user cache with its SQL tool and the module's own PostgreSQL
 * schema files; started as one process running the frontend, history, matching and worker services
 * on loopback. The schema itself is set up by db/temporal-schema.ts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import YAML from 'yaml';
import { ALL_SEARCH_ATTRIBUTES } from '../common/constants.js';
import type { Config, TemporalTls } from './config.js';
import { portIsFree, startService, type Service } from './services.js';
import { findGo, runWithProgress } from './temporal-cli.js';

/** The one place the server version is pinned: the one the CLI's dev server (v1.5.1) embeds. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
/** How long the server keeps a closed workflow's history. */
export const NAMESPACE_RETENTION_DAYS = 3;

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  /** The module's schema/postgresql/v12 folder: temporal/versioned and visibility/versioned. */
  schemaDir: string;
  source: 'cache' | 'go build';
}

export class TemporalServerError extends Error {
  override name = 'TemporalServerError';
}

export function cachedServerDir(config: Config): string {
  return path.join(config.cacheDir, 'temporal-server', TEMPORAL_SERVER_VERSION);
}

function binaries(dir: string, source: TemporalServerBinaries['source']): TemporalServerBinaries {
  return {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    schemaDir: path.join(dir, 'schema', 'postgresql', 'v12'),
    source,
  };
}

function complete(b: TemporalServerBinaries): boolean {
  const version = spawnSync(b.server, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return (
    version.status === 0 &&
    version.stdout.includes(TEMPORAL_SERVER_VERSION) &&
    spawnSync(b.sqlTool, ['--help'], { encoding: 'utf8', timeout: 30_000 }).status === 0 &&
    ['temporal', 'visibility'].every((s) => fs.existsSync(path.join(b.schemaDir, s, 'versioned')))
  );
}

/** The module cache keeps files read-only: copies get ordinary modes, so the cache can be cleared. */
function makeWritable(p: string): void {
  const st = fs.statSync(p);
  fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) makeWritable(path.join(p, e));
}

async function buildWithGo(go: string, dir: string, log: (m: string) => void, env: NodeJS.ProcessEnv): Promise<void> {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  // Built into a private folder, renamed into place when complete: two clones building at once never see half of it.
  const tmp = fs.mkdtempSync(path.join(parent, '.build-'));
  try {
    const at = `@v${TEMPORAL_SERVER_VERSION}`;
    log(
      `temporal-server: building ${TEMPORAL_SERVER_MODULE}/cmd/server${at} and cmd/tools/sql${at} with ${go} ` +
        `(several minutes on 2 cores, once per machine; cached in ${dir})`,
    );
    const { code, tail } = await runWithProgress(
      go,
      ['install', '-trimpath', `${TEMPORAL_SERVER_MODULE}/cmd/server${at}`, `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql${at}`],
      { ...env, GOBIN: path.join(tmp, 'bin'), CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
      'temporal-server: go install',
      log,
    );
    if (code !== 0)
      throw new TemporalServerError(`building the Temporal server with Go failed (exit ${code}):\n${tail.trim().split('\n').slice(-15).join('\n')}`);
    // The schema files ship in the module that was just built: copy them from the module cache.
    const mod = spawnSync(go, ['mod', 'download', '-json', `${TEMPORAL_SERVER_MODULE}${at}`], { cwd: tmp, env, encoding: 'utf8', timeout: 300_000 });
    const moduleDir = mod.status === 0 ? (JSON.parse(mod.stdout) as { Dir?: string }).Dir : undefined;
    if (!moduleDir) throw new TemporalServerError(`could not find ${TEMPORAL_SERVER_MODULE}${at} in the Go module cache: ${mod.stderr || mod.stdout}`);
    const schema = path.join(tmp, 'schema', 'postgresql', 'v12');
    fs.cpSync(path.join(moduleDir, 'schema', 'postgresql', 'v12'), schema, { recursive: true });
    makeWritable(path.join(tmp, 'schema'));
    fs.renameSync(path.join(tmp, 'bin', 'server'), path.join(tmp, 'temporal-server'));
    fs.renameSync(path.join(tmp, 'bin', 'sql'), path.join(tmp, 'temporal-sql-tool'));
    fs.rmSync(path.join(tmp, 'bin'), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true }); // an incomplete earlier one
    fs.renameSync(tmp, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The server, its SQL tool and its schema: from the per-user cache, else built once with Go. */
export async function obtainTemporalServer(config: Config, env: NodeJS.ProcessEnv, log: (m: string) => void): Promise<TemporalServerBinaries> {
  const dir = cachedServerDir(config);
  if (complete(binaries(dir, 'cache'))) return binaries(dir, 'cache');
  const go = findGo(env);
  if (!go)
    throw new TemporalServerError(
      `the full Temporal server is built from its Go module, and Go is not installed (no \`go\` on PATH). Install Go 1.23+ (https://go.dev/dl), or use the dev engine (STACKWIRE_TEMPORAL_ENGINE=dev).`,
    );
  await buildWithGo(go, dir, log, env);
  const built = binaries(dir, 'go build');
  if (!complete(built)) throw new TemporalServerError(`the Go build in ${dir} does not run as \`temporal-server --version\`; remove ${dir} and start again.`);
  return built;
}

/** The server's loopback ports: gRPC and membership for each of its four services. */
export interface TemporalServerPorts {
  frontend: number;
  history: number;
  matching: number;
  worker: number;
  frontendMembership: number;
  historyMembership: number;
  matchingMembership: number;
  workerMembership: number;
}

const portList = (p: TemporalServerPorts) => Object.entries(p) as [keyof TemporalServerPorts, number][];

/** The frontend on `base`, the others on the seven ports after it. */
export function serverPorts(base: number): TemporalServerPorts {
  return {
    frontend: base,
    history: base + 1,
    matching: base + 2,
    worker: base + 3,
    frontendMembership: base + 4,
    historyMembership: base + 5,
    matchingMembership: base + 6,
    workerMembership: base + 7,
  };
}

/** The server keeps membership ports in a smallint column: every port must be below 32768. */
const MAX_PORT = 32_767;

/** A base port whose block of eight is free on loopback (for tests and benchmarks). */
export async function freePortBlock(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * (MAX_PORT - 8 - 20_000));
    if ((await Promise.all(portList(serverPorts(base)).map(([, p]) => portIsFree(p)))).every(Boolean)) return base;
  }
  throw new TemporalServerError(`found no block of 8 free loopback ports between 20000 and ${MAX_PORT}`);
}

export interface TemporalServerOptions {
  binaries: TemporalServerBinaries;
  /** Holds the generated config/ (mode 0700: it carries the database password). */
  dir: string;
  logFile: string;
  ports: TemporalServerPorts;
  namespace: string;
  /** The server's own databases (schema set up by db/temporal-schema.ts). */
  database: { host: string; port: number; user: string; password: string; name: string; visibilityName: string };
}

/** Writes config/stackwire.yaml and its dynamic config; answers the folder to pass as --config. */
export function writeServerConfig(o: TemporalServerOptions): string {
  const configDir = path.join(o.dir, 'config');
  fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(o.dir, 0o700);
  const dynamic = path.join(configDir, 'dynamicconfig.yaml');
  // Activities on the workflow's own queue are handed straight back to the worker that asked (as the dev server does).
  fs.writeFileSync(dynamic, YAML.stringify({ 'system.enableActivityEagerExecution': [{ value: true }] }));
  const store = (name: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: name,
      connectAddr: `${o.database.host}:${o.database.port}`,
      connectProtocol: 'tcp',
      user: o.database.user,
      password: o.database.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number) => ({ rpc: { grpcPort, membershipPort, bindOnLocalHost: true } });
  const p = o.ports;
  const doc = {
    log: { stdout: true, level: 'info', format: 'json' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      // Fixed for the life of the database: 4 suits one machine.
      numHistoryShards: 4,
      datastores: { default: store(o.database.name, 20), visibility: store(o.database.visibilityName, 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      // httpPort 0: no HTTP API (gRPC only, as Stackwire uses it).
      frontend: { rpc: { ...service(p.frontend, p.frontendMembership).rpc, httpPort: 0 } },
      history: service(p.history, p.historyMembership),
      matching: service(p.matching, p.matchingMembership),
      worker: service(p.worker, p.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${p.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamic, pollInterval: '10s' },
  };
  const file = path.join(configDir, 'stackwire.yaml');
  fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return configDir;
}

export interface TemporalServer {
  address: string;
  /** The running process (replaced by restart()). */
  service: Service;
  /** Stops the process (SIGTERM, then SIGKILL after graceMs). */
  stop(graceMs?: number): Promise<void>;
  /** Starts it again on the same configuration and waits until it serves; answers the milliseconds that took. */
  restart(): Promise<number>;
}

/** Starts the server, waits until it serves, and makes sure the namespace and Stackwire's search attributes exist. */
export async function startTemporalServer(o: TemporalServerOptions): Promise<TemporalServer> {
  for (const [what, port] of portList(o.ports)) {
    if (port > MAX_PORT)
      throw new TemporalServerError(
        `port ${port} (the Temporal server's ${what} port) is above ${MAX_PORT}, which the server cannot record (its membership table keeps ports as smallint). Set STACKWIRE_TEMPORAL_PORT to ${MAX_PORT - 7} or below.`,
      );
    if (!(await portIsFree(port)))
      throw new TemporalServerError(
        `port ${port} on 127.0.0.1 (the Temporal server's ${what} port) is taken. The full server uses STACKWIRE_TEMPORAL_PORT and the seven ports after it: stop what uses it or set STACKWIRE_TEMPORAL_PORT to another base.`,
      );
  }
  const configDir = writeServerConfig(o);
  const address = `127.0.0.1:${o.ports.frontend}`;
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  const launch = async () => {
    const service = await startService({
      name: 'temporal',
      command: o.binaries.server,
      // --root /: --config is taken relative to it.
      args: ['--root', '/', '--config', configDir, '--env', 'stackwire', '--allow-no-auth', 'start'],
      env: { PATH: '/usr/bin:/bin' },
      // Its configuration loaded and its services starting; serving is checked next.
      ready: /"msg":"Starting server for services"/,
      readyTimeoutMs: 120_000,
      output: o.logFile,
    });
    try {
      await waitForServing(address, 120_000, service.exited);
    } catch (err) {
      await service.stop(5000);
      throw err;
    }
    return service;
  };
  const server: TemporalServer = {
    address,
    service: await launch(),
    stop: (graceMs = 30_000) => server.service.stop(graceMs),
    restart: async () => {
      const started = Date.now();
      server.service = await launch();
      return Date.now() - started;
    },
  };
  try {
    await ensureNamespace(address, o.namespace);
    await ensureSearchAttributes(address, o.namespace);
    await waitForSearchAttributes(address, o.namespace, 60_000);
  } catch (err) {
    await server.stop(5000);
    throw err;
  }
  return server;
}

/** Waits until the frontend reports SERVING (its services have joined the cluster). */
async function waitForServing(address: string, timeoutMs: number, exited: Promise<number | null>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined)
      throw new TemporalServerError(`the Temporal server exited (code ${exitCode}) before it served at ${address}: see its log for the "fatal" line`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        const r = await conn.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
        if (r.status === proto.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING) return;
        last = `status ${r.status}`;
      } finally {
        await conn.close();
      }
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new TemporalServerError(`the Temporal server at ${address} did not serve within ${timeoutMs / 1000}s: ${String(last)}`);
}

const grpcCode = (err: unknown) => (err as { code?: number }).code;

/** Registers the namespace (retention NAMESPACE_RETENTION_DAYS) unless it exists. */
export async function ensureNamespace(address: string, namespace: string, tls?: TemporalTls): Promise<void> {
  const conn = await Connection.connect({ address, ...(tls ? { tls } : {}) });
  try {
    await conn.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (grpcCode(err) !== 5) throw err; // NOT_FOUND
    try {
      await conn.workflowService.registerNamespace({
        namespace,
        description: 'Stackwire',
        workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_DAYS} days`),
      });
    } catch (e) {
      if (grpcCode(e) !== 6) throw e; // ALREADY_EXISTS: registered concurrently
    }
    // The services learn of a new namespace on their next cache refresh (a few seconds).
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await conn.operatorService.listSearchAttributes({ namespace });
        break;
      } catch (e) {
        if (grpcCode(e) !== 5 || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  } finally {
    await conn.close();
  }
}

/** Registers Stackwire's search attributes on a cluster; a no-op for those that exist. */
export async function ensureSearchAttributes(address: string, namespace: string, tls?: TemporalTls): Promise<void> {
  const conn = await Connection.connect({ address, ...(tls ? { tls } : {}) });
  try {
    const existing = await conn.operatorService.listSearchAttributes({ namespace });
    const missing = ALL_SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    await conn.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  } finally {
    await conn.close();
  }
}

/** SQL visibility keeps search attributes in the namespace, which the services cache: waits until a query may use them all. */
async function waitForSearchAttributes(address: string, namespace: string, timeoutMs: number): Promise<void> {
  // Backquoted: Trigger is an SQL keyword to the SQL visibility store.
  const query = ALL_SEARCH_ATTRIBUTES.map((k) => `\`${k.name}\` = "-"`).join(' AND ');
  const conn = await Connection.connect({ address });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await conn.workflowService.countWorkflowExecutions({ namespace, query });
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new TemporalServerError(`Stackwire's search attributes were not usable in ${namespace} within ${timeoutMs / 1000}s: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await conn.close();
  }
}
