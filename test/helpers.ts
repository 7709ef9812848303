/** What every test file shares: the public surfaces of the stack the test runner started. */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import pg from 'pg';
import { CLI_ENTRY, NODE, WORKER_ENTRY } from '../lib/paths.js';
import { startService } from '../lib/services.js';
import { PROJECT_ROOT, loadConfig } from '../lib/config.js';
import { createPayloadCodec } from '../lib/payload-codec.js';
import { createTemporalClient, temporalConnectionOptions } from '../lib/temporal-client.js';
import type { PipelineRunView } from '../common/api-types.js';

export const config = loadConfig();
export const API = config.api.url;
export const TEST_PACK = process.env.STACKWIRE_TEST_PACK ?? path.join(PROJECT_ROOT, 'test', 'fixtures', 'packs', 'testkit');
export const ADMIN_DB_URL = process.env.STACKWIRE_TEST_ADMIN_DB_URL ?? '';
/** The suite's admin key (scripts/test.ts creates it). */
export const ADMIN_KEY = process.env.STACKWIRE_API_KEY ?? '';

/** A new API key made through the API with the admin key: `as(key)` gives headers that use it. */
export async function makeKey(o: {
  name: string;
  role: string;
  scopes?: Record<string, string[]>;
  expiresInSeconds?: number | null;
  rateLimitPerMinute?: number;
}): Promise<{ id: string; key: string }> {
  const r = await http<{ id: string; key: string }>('POST', '/api/v1/apikeys', o);
  if (r.status !== 201) throw new Error(`could not create a key: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export function as(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export async function http<T = Record<string, unknown>>(
  method: string,
  urlPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult<T>> {
  // The suite's admin key unless the test gives its own Authorization (or `authorization: ''` for none).
  const auth = headers.authorization ?? (ADMIN_KEY ? `Bearer ${ADMIN_KEY}` : '');
  const { authorization: _a, ...rest } = headers;
  const res = await fetch(`${API}${urlPath}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: auth } : {}), ...rest },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export interface Execution {
  id: string;
  status: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  error: string | null;
  worker: string | null;
  region: string;
  attempt: number;
  parameters: Record<string, unknown>;
  argv: string[];
  [k: string]: unknown;
}

/** Starts an execution over HTTP and waits for its end. */
export async function runViaApi(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ id: string; execution: Execution }> {
  const started = await http<{ id: string }>('POST', '/api/v1/executions', body, headers);
  if (started.status !== 202) throw new Error(`expected 202, got ${started.status}: ${JSON.stringify(started.body)}`);
  return { id: started.body.id, execution: await waitForEnd(started.body.id) };
}

export async function waitForEnd(id: string, maxSeconds = 120): Promise<Execution> {
  const deadline = Date.now() + maxSeconds * 1000;
  while (Date.now() < deadline) {
    const asked = Date.now();
    const r = await http<Execution>('GET', `/api/v1/executions/${encodeURIComponent(id)}?wait=20`);
    if (['succeeded', 'failed', 'timed_out', 'cancelled'].includes(r.body.status)) return r.body;
    // The API waits for the end; an answer that came back at once (not found yet, an error) is not polled in a loop.
    if (Date.now() - asked < 200) await sleep(200);
  }
  throw new Error(`execution ${id} did not finish within ${maxSeconds}s`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return cliStarted(args, env).done;
}

/** A CLI command left running: what it printed so far, its end, and a kill for cleanup. */
export function cliStarted(args: string[], env: Record<string, string> = {}): { sofar: () => CliResult; done: Promise<CliResult>; kill: () => void } {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env: { ...process.env, STACKWIRE_API_URL: API, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { sofar: () => ({ code: child.exitCode, stdout, stderr }), done, kill: () => void child.kill('SIGKILL') };
}

let clientPromise: Promise<Client> | undefined;
/** A client like the API's: it encrypts what it sends and decrypts what it reads (lib/payload-codec.ts). */
export function temporalClient(): Promise<Client> {
  clientPromise ??= createTemporalClient(config);
  return clientPromise;
}

let rawClientPromise: Promise<Client> | undefined;
/** A client WITHOUT the codec: what anyone with access to the Temporal server alone (or its database) sees. */
export function rawTemporalClient(): Promise<Client> {
  rawClientPromise ??= Connection.connect(temporalConnectionOptions(config)).then(
    (connection) => new Client({ connection, namespace: config.temporal.namespace }),
  );
  return rawClientPromise;
}

/** Every payload found anywhere in `value` (a history, an event …) decrypted with the stack's keys; unencrypted ones as they are. */
export async function decodePayloads<T>(value: T): Promise<T> {
  const codec = createPayloadCodec(config);
  const walk = async (v: unknown): Promise<unknown> => {
    if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    const o = v as Record<string, unknown>;
    const meta = o.metadata as Record<string, unknown> | undefined;
    if (meta && typeof meta === 'object' && meta.encoding instanceof Uint8Array) return (await codec.decode([o]))[0];
    return Object.fromEntries(await Promise.all(Object.entries(o).map(async ([k, x]) => [k, await walk(x)] as const)));
  };
  return (await walk(value)) as T;
}

/**
 * With STACKWIRE_RECORD_FIXTURES=1, writes a workflow's history, payloads decrypted (the replay test
 * runs under another run's key), to test/fixtures/histories/<name>.json: a replay fixture of the code
 * path the test just ran (workflows/README.md, "Changing a workflow").
 */
export async function recordFixture(name: string, workflowId: string, runId?: string): Promise<void> {
  if (process.env.STACKWIRE_RECORD_FIXTURES !== '1') return;
  const history = await (await rawTemporalClient()).workflow.getHandle(workflowId, runId).fetchHistory();
  const plain = await decodePayloads(history);
  fs.writeFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'histories', `${name}.json`), `${historyToJSON(plain)}\n`);
}

/** recordFixture for the newest run a visibility query finds (for runs the API starts under ids of its own). */
export async function recordNewestFixture(name: string, query: string): Promise<void> {
  if (process.env.STACKWIRE_RECORD_FIXTURES !== '1') return;
  const client = await rawTemporalClient();
  const found = await eventually(async () => {
    for await (const w of client.workflow.list({ query })) return w;
    return undefined;
  }, `a run where ${query}`);
  await recordFixture(name, found.workflowId, found.runId);
}

/** historyText of a history with its payloads decrypted first (what the Web UI shows through the codec endpoint). */
export async function decodedHistoryText(history: unknown): Promise<string> {
  return historyText(await decodePayloads(history));
}

export function dbPool(): pg.Pool {
  return new pg.Pool({ connectionString: config.database.url, max: 2 });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** True while a process with this pid runs (a zombie waiting to be reaped counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Polls `fn` until it returns something. The deadline is how long a loaded 2-core CI machine may need
 * (a workflow query there took 6 s a call), never a claim about speed: benchmarks measure that.
 */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * A pipeline run's view once its workflow has closed. A 503 (Temporal or the region's worker did not
 * answer a query in time, as on a loaded 2-core machine) is asked again; any other error fails at once.
 */
export async function pipelineRunEnded<T extends { workflowStatus: string } = PipelineRunView>(
  id: string,
  timeoutMs = 120_000,
  headers: Record<string, string> = {},
): Promise<T> {
  return eventually(
    async () => {
      const r = await http<T>('GET', `/api/v1/pipelines/runs/${id}`, undefined, headers);
      if (r.status === 503) return undefined;
      if (r.status !== 200) throw new Error(`GET /api/v1/pipelines/runs/${id}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.workflowStatus === 'running' ? undefined : r.body;
    },
    `pipeline run ${id} to end`,
    timeoutMs,
    500,
  );
}

/** A workflow history as text with every payload's bytes decoded (toJSON would show them as base64). */
export function historyText(history: unknown): string {
  const plain = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    return v;
  };
  return JSON.stringify(plain(history));
}

/**
 * How many runs a visibility query matches, once visibility has caught up. Visibility is indexed
 * asynchronously, so a count read at once can miss a run that was wrongly started a moment ago: this
 * starts a sentinel workflow (on a task queue no worker polls) carrying `attrs`, waits until the query
 * sees it, terminates it, and answers the count then, sentinels left out.
 */
export async function settledCount(query: string, attrs: SearchAttributePair[]): Promise<number> {
  const client = await temporalClient();
  const id = `sentinel-${crypto.randomBytes(6).toString('hex')}`;
  const handle = await client.workflow.start('visibilitySentinel', { taskQueue: 'stackwire.test-sentinel', workflowId: id, typedSearchAttributes: attrs });
  try {
    const settled = await eventually(
      async () => {
        const seen = (await client.workflow.count(`${query} AND WorkflowId = "${id}"`)).count;
        // An object: a count of 0 is an answer, not a reason to wait.
        // Sentinels (this one, and earlier ones, which stay listed once terminated) are not counted.
        return seen === 1 ? { count: (await client.workflow.count(`(${query}) AND WorkflowType != "visibilitySentinel"`)).count } : undefined;
      },
      `the sentinel to show in visibility (${query})`,
      30_000,
    );
    return settled.count;
  } finally {
    await handle.terminate('visibility sentinel').catch(() => undefined);
  }
}

/**
 * Waits (up to `ms`) for every pid to be gone; when one is still alive, fails with what `ps` says of
 * them and of their lifeline watchers (lib/spawn.ts), so that a failure says why.
 */
export async function gone(pids: number[], what: string, ms = 1000): Promise<void> {
  try {
    await eventually(() => (pids.some(alive) ? undefined : true), what, ms);
  } catch (err) {
    const ps = spawnSync('ps', ['-eo', 'pid,pgid,ppid,stat,user,etimes,args'], { encoding: 'utf8' }).stdout.split('\n');
    const pgids = new Set(ps.filter((l) => pids.includes(Number(l.trim().split(/\s+/)[0]))).map((l) => l.trim().split(/\s+/)[1]));
    const related = ps.filter(
      (l, i) => i === 0 || pids.includes(Number(l.trim().split(/\s+/)[0])) || [...pgids].some((g) => l.includes(`stackwire-lifeline ${g}`)),
    );
    throw new Error(`${(err as Error).message}\n${related.join('\n')}`);
  }
}

/**
 * A worker process of the test's own for `region` (a region only it serves, so no other worker can take
 * its work), its log in `dir/<name>.log`, with this process's environment plus `env`.
 */
export function regionWorker(region: string, dir: string, name: string, env: Record<string, string> = {}) {
  return startService({
    name,
    command: NODE,
    args: [WORKER_ENTRY, '--region', region],
    env: { ...process.env, ...env, STACKWIRE_REGIONS: region },
    ready: /worker ready/,
    readyTimeoutMs: 180_000, // a loaded machine
    output: path.join(dir, `${name}.log`),
  });
}
