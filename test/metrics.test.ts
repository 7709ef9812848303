/**
 * Metrics for Prometheus: the API's GET /metrics (a key with metrics.read) counts requests by route and
 * status, runs started and trigger instances; each worker's own /metrics (a loopback port, told to the
 * tests by `npm test` in STACKWIRE_TEST_WORKER_METRICS) counts and times its activities by type, its
 * failures by type, and carries the Temporal SDK's metrics; /healthz says whether it polls.
 * Other test files run at the same time on the same stack: counters are compared before and after a
 * run of this file's own, never read as absolute values (except for series only this file can touch).
 */
import crypto from 'node:crypto';
import test from 'ava';
import { API, as, eventually, http, makeKey, runViaApi, uniqueName } from './helpers.js';

const WORKERS = JSON.parse(process.env.STACKWIRE_TEST_WORKER_METRICS ?? '{}') as Record<string, string>;
const ADMIN_KEY = process.env.STACKWIRE_API_KEY ?? '';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; samples: Sample[] }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', samples: res.ok ? parse(text) : [] };
}

const apiMetrics = () => scrape(`${API}/metrics`, as(ADMIN_KEY));
const workerMetrics = (name: string) => scrape(`${WORKERS[name]}/metrics`);

test('npm test tells where every worker serves its metrics', (t) => {
  t.deepEqual(Object.keys(WORKERS).sort(), ['orchestrator', 'worker-eu-west', 'worker-us-east']);
  for (const url of Object.values(WORKERS)) t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'a loopback address');
});

test('a run is counted by the API (request, run started) and by the worker that ran it (step duration)', async (t) => {
  const route = { method: 'POST', route: '/api/v1/executions', status: '202' };
  const step = { activity_type: 'runAction', outcome: 'succeeded' };
  const apiBefore = await apiMetrics();
  const workerBefore = await workerMetrics('worker-us-east');
  t.is(apiBefore.status, 200);
  t.regex(apiBefore.type, /^text\/plain; version=0\.0\.4/);

  const { execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: 'counted' }, region: 'us-east' });
  t.is(execution.status, 'succeeded');

  // The worker records the step when the activity returns, a moment after the run's row says it ended.
  const after = await eventually(
    async () => {
      const api = await apiMetrics();
      const worker = await workerMetrics('worker-us-east');
      return value(worker.samples, 'stackwire_worker_activity_duration_seconds_count', step) >
        value(workerBefore.samples, 'stackwire_worker_activity_duration_seconds_count', step)
        ? { api, worker }
        : undefined;
    },
    'the worker counted the step',
    30_000,
  );
  const grew = (s: { samples: Sample[] }, before: { samples: Sample[] }, name: string, labels: Record<string, string>) =>
    value(s.samples, name, labels) - value(before.samples, name, labels);
  t.true(grew(after.api, apiBefore, 'stackwire_api_http_requests_total', route) >= 1, 'POST /api/v1/executions 202 counted');
  t.true(grew(after.api, apiBefore, 'stackwire_api_http_request_duration_seconds_count', route) >= 1, 'and timed');
  t.true(grew(after.api, apiBefore, 'stackwire_api_runs_started_total', { workflow_type: 'actionExecution' }) >= 1, 'the run started counted');
  t.true(grew(after.worker, workerBefore, 'stackwire_worker_activity_duration_seconds_sum', step) > 0, 'its duration added');
  t.true(
    after.worker.samples.some((s) => s.name === 'stackwire_worker_activities_in_flight' && s.labels.activity_type === 'runAction'),
    'in flight',
  );
  t.true(
    after.worker.samples.every((s) => !s.name.startsWith('stackwire_') || s.labels.region === 'us-east'),
    'every series names its region',
  );
  // The Temporal SDK's own metrics, merged in: the activity it ran, by type.
  t.true(value(after.worker.samples, 'temporal_activity_execution_latency_seconds_count', { activity_type: 'runAction' }) >= 1, 'Temporal SDK metrics');
  // Only routes' templates as labels, never a path with an id in it.
  t.false(after.api.samples.some((s) => s.name === 'stackwire_api_http_requests_total' && /\/executions\/[^:]/.test(s.labels.route ?? '')));
});

test('a failed step is counted by its failure type', async (t) => {
  const labels = { activity_type: 'runAction', failure_type: 'ActionScriptFailed' };
  const before = value((await workerMetrics('worker-us-east')).samples, 'stackwire_worker_activity_failures_total', labels);
  const { execution } = await runViaApi({ action: 'testkit.fail', parameters: { code: 3 }, region: 'us-east' });
  t.is(execution.status, 'failed');
  await eventually(
    async () => (value((await workerMetrics('worker-us-east')).samples, 'stackwire_worker_activity_failures_total', labels) > before ? {} : undefined),
    'the failure counted',
    30_000,
  );
  t.pass();
});

test('trigger instances are counted by type and outcome', async (t) => {
  const name = uniqueName('metrics');
  const created = await http<{ secret: string }>('POST', '/api/v1/webhooks', { name, auth: 'hmac' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const raw = JSON.stringify({ hello: 'metrics' });
  const delivery = crypto.randomUUID();
  const deliver = () =>
    fetch(`${API}/api/v1/webhooks/${name}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-delivery-id': delivery,
        'x-hub-signature-256': `sha256=${crypto.createHmac('sha256', created.body.secret).update(raw).digest('hex')}`,
      },
      body: raw,
    });
  t.true((await deliver()).ok);
  t.true((await deliver()).ok, 'a redelivery is answered too');
  // This webhook's type is this test's alone: exact counts.
  const s = (await apiMetrics()).samples;
  t.is(value(s, 'stackwire_api_triggers_total', { type: `webhook.${name}`, outcome: 'dispatched' }), 1);
  t.is(value(s, 'stackwire_api_triggers_total', { type: `webhook.${name}`, outcome: 'duplicate' }), 1);
});

test('the API’s /metrics needs a key (any role, metrics.read); a worker’s /healthz says it polls', async (t) => {
  t.is((await scrape(`${API}/metrics`)).status, 401);
  const viewer = await makeKey({ name: uniqueName('prometheus'), role: 'viewer', expiresInSeconds: 600 });
  t.is((await scrape(`${API}/metrics`, as(viewer.key))).status, 200);
  for (const [name, url] of Object.entries(WORKERS)) {
    const res = await fetch(`${url}/healthz`);
    t.is(res.status, 200, name);
    t.like(await res.json(), { status: 'ok', state: 'RUNNING' }, name);
    t.is((await fetch(`${url}/other`)).status, 404);
  }
  // The orchestrator runs no activities, but its workflows: the SDK's workflow metrics are there.
  const orch = await workerMetrics('orchestrator');
  t.true(
    orch.samples.some((s) => s.name.startsWith('temporal_')),
    'Temporal SDK metrics on the orchestrator',
  );
  t.true(
    orch.samples.some((s) => s.name === 'process_cpu_user_seconds_total'),
    'process metrics',
  );
});
