/**
 * `npm run bench -- --only webhook`: webhook → workflow started latency. A generic webhook with an HMAC
 * secret and one rule whose criteria hold start an action run per delivery; deliveries are sent open
 * loop (at a fixed rate whatever the answers, so a slow answer does not hide the ones queued behind it)
 * and each one's latency is from its send to its 202, which the API answers once the trigger is recorded
 * and the workflow start has returned from Temporal. → bench/results/webhook-latency.json
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WebhookCreateResponse, WebhookDeliveryResponse } from '../common/api-types.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { startBenchApi } from '../bench/bench-api.js';

export interface WebhookBenchOptions {
  env: NodeJS.ProcessEnv;
  dbUrl: string;
  runDir: string;
  rate: number;
  seconds: number;
  log: (m: string) => void;
  quantile: (xs: number[], q: number) => number;
  /** Stops the regional worker: the second phase measures starts with the workers elsewhere. */
  stopWorker: () => Promise<void>;
}

export async function benchWebhook(o: WebhookBenchOptions) {
  const { api, url, call } = await startBenchApi(o);
  try {
    const hook = await call<WebhookCreateResponse>('POST', '/api/v1/webhooks', { name: 'bench', auth: 'hmac' });
    await call('POST', '/api/v1/rules/apply', {
      files: [
        {
          path: 'bench-rule.yaml',
          content: `name: bench\ntrigger: {type: webhook.bench}\ncriteria:\n  trigger.body.severity: {type: equals, pattern: critical}\naction: {ref: benchkit.step}\n`,
        },
      ],
    });
    const send = async (i: number): Promise<number> => {
      const raw = JSON.stringify({ severity: 'critical', host: `web-${i}` });
      const t0 = performance.now();
      const res = await fetch(`${url}/api/v1/webhooks/bench`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-delivery-id': `bench-${i}`,
          'x-hub-signature-256': `sha256=${crypto.createHmac('sha256', hook.secret!).update(raw).digest('hex')}`,
        },
        body: raw,
      });
      const body = (await res.json()) as WebhookDeliveryResponse;
      const ms = performance.now() - t0;
      if (res.status !== 202 || body.runs.length !== 1 || body.runs[0].error) throw new Error(`delivery ${i}: ${res.status} ${JSON.stringify(body)}`);
      return ms;
    };
    o.log('warming up (50 deliveries)');
    for (let i = 0; i < 50; i++) await send(-i - 1);
    const total = o.rate * o.seconds;
    let next = 0;
    const phase = async (what: string) => {
      o.log(`${what}: ${total} deliveries at ${o.rate}/s, open loop`);
      const interval = 1000 / o.rate;
      const start = performance.now();
      const pending: Promise<number>[] = [];
      for (let i = 0; i < total; i++) {
        const due = start + i * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        pending.push(send(next++));
      }
      const latencies = await Promise.all(pending);
      const elapsed = (performance.now() - start) / 1000;
      return {
        achievedRate: +(total / elapsed).toFixed(1),
        latencyMs: {
          p50: +o.quantile(latencies, 0.5).toFixed(1),
          p90: +o.quantile(latencies, 0.9).toFixed(1),
          p99: +o.quantile(latencies, 0.99).toFixed(1),
          max: +Math.max(...latencies).toFixed(1),
        },
      };
    };
    // First with the worker on this machine running every started action (50 scripts a second on the
    // same cores as the API and the dev server), then with it stopped: the workflows queue for workers
    // elsewhere, as in a deployment, and what is measured is the API and Temporal alone.
    const withWorker = await phase('worker on this machine');
    await o.stopWorker();
    const workersElsewhere = await phase('workers elsewhere');
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', node: process.version },
      server: 'Temporal CLI dev server 1.5.1 (server 1.29.1, SQLite in WAL mode); one API process; Postgres 15 on the same machine',
      deliveries: total,
      rate: o.rate,
      workersElsewhere,
      workerOnThisMachine: withWorker,
      target: 'p99 ≤ 50 ms at 50 requests/s',
    };
    fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'webhook-latency.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await api.stop(5000);
  }
}
