/**
 * Delivery metrics query time (`npm run bench -- --only metrics`): a year of generated deploy history —
 * 28 components, 8 developers, 100 deploys a day over two regions (a staging record first, 15 % failed
 * and rolled back, a third started by pushes with their commit recorded) — in a database of its own;
 * the statement behind GET /api/v1/metrics/delivery timed over 30 and 366 days, with the indexes of
 * migration 1733500000000, and the 30-day one without them (once, stopped after 120 s). Deterministic (seeded).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { DeliveryMetricsResponse } from '../common/api-types.js';
import { deliveryMetrics, isStatementTimeout, type DeliveryQuery } from '../db/delivery-metrics.js';
import { createPool } from '../db/pool.js';
import { dropDatabase, ensureDatabase, provisionDatabase, withDatabase } from '../db/provision.js';
import { PROJECT_ROOT, type Config } from '../lib/config.js';
import { prepareDatabase } from '../scripts/stack.js';
import { random } from './rule-match.js';

const DAY_MS = 86_400_000;
const COMPONENTS = Array.from({ length: 28 }, (_, i) => `component-${String(i + 1).padStart(2, '0')}`);
const DEVELOPERS = ['ana', 'ben', 'chen', 'dara', 'eli', 'fay', 'gus', 'hana'];
/** The migration's indexes, dropped for the second round. */
const INDEXES = ['deployments_run', 'deployments_env_started', 'deployments_component_version'];

export interface MetricsBenchResult {
  deploys: number;
  records: number;
  pushes: number;
  seedSeconds: number;
  iterations: number;
  /** Median milliseconds of one statement. */
  withIndexes: Record<string, number>;
  /** The 30-day statement once without them (null: stopped after UNINDEXED_TIMEOUT_S). */
  withoutIndexes: Record<string, number | null>;
  /** Checked: the same figures with and without the indexes (when it finished). */
  sameAnswers: boolean;
}

type Row = [string, string, string, string, string, string, string, string, string | null, Date, Date];

/** Writes `days` days of history ending at `end`; answers how many deploys, records and pushes. */
export async function seedDeliveryHistory(
  pool: pg.Pool,
  end: Date,
  days: number,
  perDay: number,
): Promise<{ deploys: number; records: number; pushes: number }> {
  const rnd = random(15);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const rows: Row[] = [];
  const pushes: [string, string][] = [];
  const flush = async () => {
    const cols = Array.from({ length: 11 }, (_, i) => rows.map((r) => r[i]));
    await pool.query(
      `INSERT INTO deployments (id, component, version, environment, region, kind, status, actor, trigger_id, started_at, finished_at, trigger, workflow_id)
       SELECT id, c, v, e, r, k, s, a, t, st, fi, 'api', id
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
         AS x(id, c, v, e, r, k, s, a, t, st, fi)`,
      cols,
    );
    await pool.query(
      `INSERT INTO triggers (id, type, source, payload_digest, payload_size, status, metadata)
       SELECT id, 'github.push', 'webhook github', 'sha256:0', 0, 'dispatched', m::jsonb FROM unnest($1::text[], $2::text[]) AS x(id, m)`,
      [pushes.map((p) => p[0]), pushes.map((p) => p[1])],
    );
    rows.length = 0;
    pushes.length = 0;
  };
  let deploys = 0;
  let records = 0;
  let pushed = 0;
  const first = end.getTime() - days * DAY_MS;
  for (let d = 0; d < days; d++) {
    for (let i = 0; i < perDay; i++) {
      const component = pick(COMPONENTS);
      const developer = pick(DEVELOPERS);
      const version = `${d}.${i}`;
      const run = `deploy.${component}.production-${d}-${i}`;
      const start = first + d * DAY_MS + Math.floor(rnd() * DAY_MS);
      const leg = () => (2 + Math.floor(rnd() * 8)) * 60_000;
      const push = rnd() < 1 / 3 ? `github.push.bench-${d}-${i}` : null;
      if (push) {
        pushes.push([
          push,
          JSON.stringify({ commit: `${d}${i}`, committedAt: new Date(start - Math.floor(rnd() * 3 * DAY_MS)).toISOString(), author: developer }),
        ]);
        pushed++;
      }
      const actor = push ? 'github:bot' : developer;
      const at = (t: number) => new Date(t);
      rows.push([
        `deploy.${component}.staging-${d}-${i}.us-east.deploy`,
        component,
        version,
        'staging',
        'us-east',
        'deploy',
        'succeeded',
        actor,
        push,
        at(start - 3_600_000),
        at(start - 3_500_000),
      ]);
      const canaryEnd = start + leg();
      if (rnd() < 0.15) {
        rows.push([`${run}.us-east.deploy`, component, version, 'production', 'us-east', 'deploy', 'failed', actor, push, at(start), at(canaryEnd)]);
        rows.push([
          `${run}.us-east.rollback`,
          component,
          version,
          'production',
          'us-east',
          'rollback',
          'succeeded',
          actor,
          push,
          at(canaryEnd),
          at(canaryEnd + leg()),
        ]);
      } else {
        rows.push([`${run}.us-east.deploy`, component, version, 'production', 'us-east', 'deploy', 'succeeded', actor, push, at(start), at(canaryEnd)]);
        rows.push([
          `${run}.eu-west.deploy`,
          component,
          version,
          'production',
          'eu-west',
          'deploy',
          'succeeded',
          actor,
          push,
          at(canaryEnd),
          at(canaryEnd + leg()),
        ]);
      }
      records += 3;
      deploys++;
      if (rows.length >= 5000) await flush();
    }
  }
  await flush();
  await pool.query('ANALYZE deployments; ANALYZE triggers');
  return { deploys, records, pushes: pushed };
}

const CASES = {
  '30 days, per developer': { days: 30, by: 'developer' as const },
  '30 days, per component': { days: 30, by: 'component' as const },
  '366 days, per developer': { days: 366, by: 'developer' as const },
};
/** Without the indexes a statement may take minutes: it is given this long, once. */
const UNINDEXED_TIMEOUT_S = 120;

const query = (end: Date, c: (typeof CASES)[keyof typeof CASES]): DeliveryQuery => ({
  since: new Date(end.getTime() - c.days * DAY_MS),
  until: end,
  environment: 'production',
  components: null,
  by: c.by,
  listDeploys: false,
});

/** The same figures, to 12 significant digits (a mean sums its values in the order the plan reads them). */
export function sameFigures(a: DeliveryMetricsResponse, b: DeliveryMetricsResponse): boolean {
  const text = (m: DeliveryMetricsResponse) => JSON.stringify(m, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(12)) : v));
  return text(a) === text(b);
}

/** Median milliseconds of each case (after a warm-up run), and the answers. */
async function timings(
  pool: pg.Pool,
  end: Date,
  iterations: number,
): Promise<{ ms: Record<string, number>; answers: Record<string, DeliveryMetricsResponse> }> {
  const ms: Record<string, number> = {};
  const answers: Record<string, DeliveryMetricsResponse> = {};
  for (const [name, c] of Object.entries(CASES)) {
    answers[name] = await deliveryMetrics(pool, query(end, c));
    const xs: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await deliveryMetrics(pool, query(end, c));
      xs.push(performance.now() - t0);
    }
    xs.sort((a, b) => a - b);
    ms[name] = Math.round(xs[Math.floor((xs.length - 1) / 2)] * 10) / 10;
  }
  return { ms, answers };
}

export async function benchDeliveryMetrics(pool: pg.Pool, o: { perDay: number; iterations: number; log: (m: string) => void }): Promise<MetricsBenchResult> {
  const end = new Date(Date.UTC(2026, 11, 1));
  const t0 = performance.now();
  const seeded = await seedDeliveryHistory(pool, end, 366, o.perDay);
  const seedSeconds = Math.round((performance.now() - t0) / 100) / 10;
  o.log(`seeded ${seeded.deploys} deploys (${seeded.records} records) in ${seedSeconds} s`);
  const indexed = await timings(pool, end, o.iterations);
  o.log(`with the indexes: ${JSON.stringify(indexed.ms)}`);
  // Without the migration's indexes: the 30-day statement once, within a time limit.
  for (const i of INDEXES) await pool.query(`DROP INDEX ${i}`);
  const name = '30 days, per developer';
  let unindexed: number | null = null;
  let same = true;
  const t1 = performance.now();
  const answer = await deliveryMetrics(pool, query(end, CASES[name]), { timeoutMs: UNINDEXED_TIMEOUT_S * 1000 }).catch((err: unknown) => {
    if (isStatementTimeout(err)) return undefined;
    throw err;
  });
  if (answer) {
    unindexed = Math.round(performance.now() - t1);
    same = sameFigures(answer, indexed.answers[name]);
  }
  return { ...seeded, seedSeconds, iterations: o.iterations, withIndexes: indexed.ms, withoutIndexes: { [name]: unindexed }, sameAnswers: same };
}

function report(r: MetricsBenchResult): string {
  return [
    `delivery metrics over ${r.deploys} deploys (${r.records} records, ${r.pushes} pushes), median of ${r.iterations} runs`,
    ...Object.keys(r.withIndexes).map(
      (k) =>
        `  ${k.padEnd(24)} ${String(r.withIndexes[k]).padStart(7)} ms` +
        (k in r.withoutIndexes
          ? `   without the indexes: ${r.withoutIndexes[k] === null ? `over ${UNINDEXED_TIMEOUT_S} s (stopped)` : `${r.withoutIndexes[k]} ms`}`
          : ''),
    ),
    `  same answers without the indexes: ${r.sameAnswers ? 'yes' : 'NO'}`,
  ].join('\n');
}

/** `npm run bench -- --only metrics`: in a database of its own, dropped afterwards → bench/results/delivery-metrics.json. */
export async function runMetricsBench(config: Config, json: boolean, log: (m: string) => void): Promise<number> {
  const server = await provisionDatabase({ ...config, database: { ...config.database, name: 'postgres' } }, log);
  const name = `stackwire_bench_metrics_${process.pid}`;
  const admin = withDatabase(server.url, 'postgres');
  await ensureDatabase(admin, name);
  const url = withDatabase(server.url, name);
  await prepareDatabase(url, [], log);
  const pool = createPool(url, 2);
  try {
    const r = await benchDeliveryMetrics(pool, { perDay: 100, iterations: 10, log });
    const result = { date: new Date().toISOString(), machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', node: process.version }, ...r };
    fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'delivery-metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${report(r)}\nwritten to bench/results/delivery-metrics.json\n\n`);
    return r.sameAnswers ? 0 : 1;
  } finally {
    await pool.end();
    await dropDatabase(admin, name);
    await server.stop();
  }
}
