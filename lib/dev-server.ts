/** Starts the Temporal dev server (with its Web UI) the way Stackwire needs it. */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from '../common/constants.js';
import type { TemporalTls } from './config.js';
import { portIsFree, startService, type Service } from './services.js';

/** Activities on the workflow's own queue are handed straight back to the worker that asked. */
export const EAGER_DISPATCH_FLAGS = ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'];

/**
 * SQLite in write-ahead-log mode, synced at checkpoints: a commit no longer waits for its own fsync
 * (still durable when a process dies; an OS crash may lose the last moments). Under a burst of starts
 * (50 webhooks a second) this halves the dev server's latency.
 */
export const SQLITE_FLAGS = ['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'];

/** The Web UI lives under /ui, where the API serves it signed in (api/web-ui.ts). */
export const UI_FLAGS = ['--ui-public-path', '/ui'];

/** Flags shared by `npm start`'s dev server and the test server. */
export function devServerFlags(): string[] {
  return [...ALL_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]), ...EAGER_DISPATCH_FLAGS];
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  service: Service;
}

export async function startDevServer(o: {
  cli: string;
  port: number;
  uiPort?: number;
  dbFile: string;
  namespace: string;
  logFile: string;
  /** The codec endpoint the Web UI calls (from the browser) to decode encrypted payloads; see api/codec.ts. */
  uiCodecEndpoint?: string;
}): Promise<DevServer> {
  for (const [what, port] of [
    ['STACKWIRE_TEMPORAL_PORT', o.port],
    ['STACKWIRE_TEMPORAL_UI_PORT', o.uiPort],
  ] as const) {
    if (port !== undefined && !(await portIsFree(port))) {
      throw new Error(
        `port ${port} on 127.0.0.1 is taken, so the Temporal dev server cannot start there. Stop what uses it, set ${what} to a free port, or set TEMPORAL_ADDRESS to use a running Temporal.`,
      );
    }
  }
  fs.mkdirSync(path.dirname(o.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--db-filename',
    o.dbFile,
    ...SQLITE_FLAGS,
    '--namespace',
    o.namespace,
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...(o.uiPort !== undefined ? ['--ui-port', String(o.uiPort), '--ui-ip', '127.0.0.1', ...UI_FLAGS] : ['--headless']),
    ...(o.uiPort !== undefined && o.uiCodecEndpoint ? ['--ui-codec-endpoint', o.uiCodecEndpoint] : []),
    ...devServerFlags(),
  ];
  const service = await startService({
    name: 'temporal',
    command: o.cli,
    args,
    env: { PATH: '/usr/bin:/bin' },
    ready: /Temporal Server:|Server:\s+\S+:\d+|CLI [\d.]/,
    readyTimeoutMs: 120_000,
    output: o.logFile,
  });
  const address = `127.0.0.1:${o.port}`;
  await waitForTemporal(address, o.namespace, 60_000);
  return { address, uiUrl: o.uiPort !== undefined ? `http://127.0.0.1:${o.uiPort}/ui/` : undefined, service };
}

/** Waits until the frontend answers and the namespace exists. */
export async function waitForTemporal(address: string, namespace: string, timeoutMs: number, tls?: TemporalTls): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const conn = await Connection.connect({ address, connectTimeout: 2000, ...(tls ? { tls } : {}) });
      try {
        await conn.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`Temporal at ${address} did not answer for namespace ${namespace} within ${timeoutMs / 1000}s: ${String(last)}`);
}
