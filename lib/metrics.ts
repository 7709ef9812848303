/**
 * Prometheus metrics (prom-client): a registry per process with the Node.js process metrics, and the
 * small HTTP server a worker answers /metrics and /healthz on. The API serves its registry through
 * its own routes (api/metrics.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.js';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets for durations from a few milliseconds (a local step) to an hour (a long script). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** A registry with the process metrics (CPU, memory, event loop lag, GC) and labels on every series. */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** More exposition text appended to the registry's (the Temporal Core runtime's own metrics). */
  extra?: () => Promise<string>;
  /** 200 with the details when healthy, 503 otherwise. */
  health: () => { ok: boolean; [k: string]: unknown };
  logger: Logger;
}

/** GET /metrics and GET /healthz on host:port (port 0: a free one, told in `url`). Nothing else. */
export async function serveMetrics(o: MetricsServerOptions): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET /metrics and GET /healthz are served here\n');
      return;
    }
    if (path === '/healthz') {
      const { ok, ...details } = o.health();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...details }));
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${path} here: GET /metrics or GET /healthz\n`);
      return;
    }
    void (async () => {
      const own = await o.registry.metrics();
      const more = o.extra ? await o.extra() : '';
      res.writeHead(200, { 'content-type': o.registry.contentType }).end(more ? `${own}\n${more}` : own);
    })().catch((err: unknown) => {
      o.logger.warn({ err }, 'metrics could not be collected');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics could not be collected; the log has the details\n');
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The Prometheus text another exporter on this machine serves (Temporal Core's); '' when it does not answer. */
export async function scrape(url: string, logger: Logger, timeoutMs = 5_000): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.text();
  } catch (err) {
    logger.warn({ err, 'url.full': url }, 'the Temporal SDK metrics could not be read');
    return '';
  }
}
