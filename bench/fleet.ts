/**
 * `npm run bench -- --only fleet`: how a region's fleet scales, and how fast it takes over a lost
 * worker's run. On one dev server, one Postgres database and the API:
 *   - throughput: 200 short action runs (`benchkit.step`, which exits at once) requested through the
 *     API (20 requests in flight) on one region served by 1, 2 and 4 worker processes; from the first
 *     request to the last run's end, read from the execution records;
 *   - resume time: with two workers, an idempotent run (`benchkit.hold`, 60 s) is started, the worker
 *     running it is SIGKILLed, and the time from the kill to the start of attempt 2 on the other
 *     worker is read from its record (target ≤ the heartbeat timeout, 30 s, + 2 s). Five times.
 * → bench/results/fleet.json
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from '../db/pool.js';
import { createPool } from '../db/pool.js';
import { startService, type Service } from '../lib/services.js';
import { NODE, WORKER_ENTRY } from '../scripts/stack.js';
import { startBenchApi, type Call } from './bench-api.js';
import { PROJECT_ROOT } from '../lib/config.js';
import { ACTION_HEARTBEAT_TIMEOUT_SECONDS } from '../common/constants.js';

export interface FleetBenchOptions {
  env: NodeJS.ProcessEnv;
  dbUrl: string;
  runDir: string;
  region: string;
  /** The Temporal dev server's pid: its CPU is counted too. */
  temporalPid?: number;
  log: (m: string) => void;
  quantile: (xs: number[], q: number) => number;
  runs?: number;
}

const HEARTBEAT_TIMEOUT_S = ACTION_HEARTBEAT_TIMEOUT_SECONDS;
const TICKS = 100; // USER_HZ: /proc's clock ticks a second on Linux

/** CPU seconds a process has used (user + system), from /proc. */
function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds all Postgres server processes have used (every database's: the machine's one server). */
function postgresCpu(): number {
  let sum = 0;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/comm`, 'utf8').trim() === 'postgres') sum += cpuOf(Number(e));
    } catch {
      /* gone */
    }
  }
  return sum;
}

/** CPU seconds the whole machine has been busy (every process: Temporal, Postgres, the API, the workers, this bench). */
function machineCpu(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return [0, 1, 2, 5, 6, 7].reduce((a, i) => a + (f[i] ?? 0), 0) / TICKS; // user nice system irq softirq steal
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startWorkers(o: FleetBenchOptions, n: number, tag: string): Promise<Service[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      startService({
        name: `worker-${tag}-${i + 1}`,
        command: NODE,
        args: [WORKER_ENTRY, '--region', o.region, '--json'],
        env: o.env,
        ready: /worker ready/,
        output: path.join(o.runDir, `worker-${tag}-${i + 1}.log`),
      }),
    ),
  );
}

/** Runs `count` short actions through the API and waits for all to end: wall seconds and per-run latencies. */
async function throughput(
  o: FleetBenchOptions,
  call: Call,
  pool: Pool,
  count: number,
  pids: { api?: number; temporal?: number; workers: (number | undefined)[] },
) {
  const ids: string[] = [];
  const cpu = () => ({
    machine: machineCpu(),
    api: cpuOf(pids.api),
    temporal: cpuOf(pids.temporal),
    postgres: postgresCpu(),
    workers: pids.workers.reduce<number>((a, p) => a + cpuOf(p), 0),
  });
  const cpu0 = cpu();
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < count) {
        next++;
        const r = await call<{ id: string }>('POST', '/api/v1/executions', { action: 'benchkit.step', parameters: {}, region: o.region });
        ids.push(r.id);
      }
    }),
  );
  const requested = (Date.now() - t0) / 1000;
  for (;;) {
    const { rows } = await pool.query<{ ended: string; failed: string }>(
      `SELECT count(*) FILTER (WHERE status NOT IN ('scheduled', 'running')) AS ended, count(*) FILTER (WHERE status <> 'succeeded' AND status NOT IN ('scheduled', 'running')) AS failed
         FROM executions WHERE id = ANY($1)`,
      [ids],
    );
    if (Number(rows[0].ended) === count) {
      if (Number(rows[0].failed) > 0) throw new Error(`${rows[0].failed} of the ${count} runs did not succeed`);
      break;
    }
    if (Date.now() - t0 > 600_000) throw new Error(`only ${rows[0].ended} of ${count} runs ended within 10 minutes`);
    await sleep(100);
  }
  const { rows } = await pool.query<{ latency: number; last: Date }>(
    `SELECT extract(epoch FROM finished_at - created_at)::float8 AS latency, finished_at AS last FROM executions WHERE id = ANY($1)`,
    [ids],
  );
  const cpu1 = cpu();
  const perRun = (k: keyof typeof cpu0) => Math.round(((cpu1[k] - cpu0[k]) / count) * 1000 * 10) / 10;
  const wall = (Math.max(...rows.map((r) => r.last.getTime())) - t0) / 1000;
  const lat = rows.map((r) => r.latency * 1000);
  return {
    requestSeconds: Math.round(requested * 100) / 100,
    wallSeconds: Math.round(wall * 100) / 100,
    runsPerSecond: Math.round((count / wall) * 10) / 10,
    latencyMs: { p50: Math.round(o.quantile(lat, 0.5)), p95: Math.round(o.quantile(lat, 0.95)) },
    // CPU milliseconds a run cost: the machine's (all processes), and of it the workers' and the API's.
    cpuMsPerRun: { machine: perRun('machine'), workers: perRun('workers'), api: perRun('api'), temporal: perRun('temporal'), postgres: perRun('postgres') },
    machineBusy: Math.round(((cpu1.machine - cpu0.machine) / (wall * os.cpus().length)) * 100) / 100,
  };
}

/** Kills the worker running an idempotent run; seconds from the kill to attempt 2's start on another worker. */
async function resumeOnce(o: FleetBenchOptions, call: Call, pool: Pool, workers: Service[]): Promise<{ seconds: number; killed: string; resumedOn: string }> {
  const { id } = await call<{ id: string }>('POST', '/api/v1/executions', { action: 'benchkit.hold', parameters: { seconds: 60 }, region: o.region });
  let worker = '';
  for (const t0 = Date.now(); !worker; await sleep(100)) {
    const { rows } = await pool.query<{ worker: string | null; status: string }>('SELECT worker, status FROM executions WHERE id = $1', [id]);
    if (rows[0]?.status === 'running' && rows[0].worker) worker = rows[0].worker;
    if (Date.now() - t0 > 60_000) throw new Error(`run ${id} did not start within 60 s`);
  }
  await sleep(2000); // the script is well under way, its heartbeats flowing
  const pid = Number(/\/(\d+)$/.exec(worker)?.[1]);
  const victim = workers.find((w) => w.child.pid === pid);
  if (!victim) throw new Error(`run ${id} runs on ${worker}, not one of this bench's workers`);
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  for (;;) {
    const { rows } = await pool.query<{ attempt: number; started_at: Date; worker: string }>(
      'SELECT attempt, started_at, worker FROM executions WHERE id = $1',
      [id],
    );
    if (rows[0].attempt >= 2) {
      await call('POST', `/api/v1/executions/${id}/cancel`).catch(() => undefined);
      return { seconds: Math.round((rows[0].started_at.getTime() - killedAt) / 100) / 10, killed: worker, resumedOn: rows[0].worker };
    }
    if (Date.now() - killedAt > 120_000) throw new Error(`run ${id} was not resumed within 120 s of its worker's kill`);
    await sleep(50);
  }
}

export async function benchFleet(o: FleetBenchOptions) {
  const count = o.runs ?? 200;
  const { api, call } = await startBenchApi(o);
  const pool = createPool(o.dbUrl, 2);
  try {
    const fleets: ({ workers: number } & Awaited<ReturnType<typeof throughput>>)[] = [];
    for (const n of [1, 2, 4]) {
      const workers = await startWorkers(o, n, `x${n}`);
      try {
        const pids = { api: api.child.pid, temporal: o.temporalPid, workers: workers.map((w) => w.child.pid) };
        await throughput(o, call, pool, 20, pids); // warm-up: bundles loaded, pools filled
        const r = await throughput(o, call, pool, count, pids);
        o.log(
          `fleet: ${n} worker(s): ${count} runs in ${r.wallSeconds} s, ${r.runsPerSecond} runs/s, p50 ${r.latencyMs.p50} ms, CPU ${r.cpuMsPerRun.machine} ms a run`,
        );
        fleets.push({ workers: n, ...r });
      } finally {
        await Promise.all(workers.map((w) => w.stop(5000)));
      }
    }
    const resumes: { seconds: number; killed: string; resumedOn: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const workers = await startWorkers(o, 2, `resume${i + 1}`);
      try {
        const r = await resumeOnce(o, call, pool, workers);
        o.log(`fleet: resume ${i + 1}: ${r.seconds} s after the kill, on ${r.resumedOn}`);
        resumes.push(r);
      } finally {
        await Promise.all(workers.map((w) => w.stop(5000)));
      }
    }
    const secs = resumes.map((r) => r.seconds);
    const result = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model ?? '?',
        node: process.version,
        loadAverage: os.loadavg().map((l) => Math.round(l * 10) / 10),
      },
      runs: count,
      fleets,
      resume: {
        heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S,
        targetSeconds: HEARTBEAT_TIMEOUT_S + 2,
        seconds: secs,
        median: o.quantile(secs, 0.5),
        max: Math.max(...secs),
      },
    };
    fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'fleet.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await pool.end();
    await api.stop(5000);
  }
}

/** The plain-text report of a fleet run. */
export function fleetReport(r: Awaited<ReturnType<typeof benchFleet>>): string {
  return [
    `${r.runs} short action runs on one region (load average ${r.machine.loadAverage.join(' ')}):`,
    ...r.fleets.map(
      (f) => `  ${f.workers} worker(s): ${f.wallSeconds} s, ${f.runsPerSecond} runs/s, latency p50 ${f.latencyMs.p50} ms, p95 ${f.latencyMs.p95} ms`,
    ),
    `resume after a worker's SIGKILL (target ≤ ${r.resume.targetSeconds} s): median ${r.resume.median} s, max ${r.resume.max} s (${r.resume.seconds.join(', ')})`,
    'written to bench/results/fleet.json',
    '',
  ].join('\n');
}
