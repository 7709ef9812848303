/**
 * `npm run bench`: orchestration overhead of a 10-step pipeline of short scripts, measured in one run
 * on one dev server with one configuration (eager activity dispatch on, activities on the
 * workflow's own queue) for:
 *   - Stackwire: a pipeline (a chain of `steps` steps) through the `pipelineRun` interpreter on a real regional
 *     worker process (records every step in Postgres), with the script as is and declared idempotent
 *     (local activities), and a for_each over 500 items 20 at a time;
 *   - raw:       a hand-written minimal Temporal workflow running the same scripts as plain activities;
 *   - direct:    the same scripts spawned one after another, no orchestration.
 * Overhead per step = (wall time − direct wall time) / steps. Also the ingest of generated scripts (bench/ingest.ts,
 * bench/bulk-ingest.ts) and
 * rule matching throughput (bench/rule-match.ts), and the delivery metrics statement (bench/delivery-metrics.ts). Results: bench/results/.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { regionTaskQueue } from '../common/constants.js';
import { buildArgv } from '../common/argv.js';
import type { PipelineDef, PipelineRunRequest } from '../common/pipeline.js';
import { getCurrentAction } from '../db/actions.js';
import { createPool } from '../db/pool.js';
import { dropDatabase, ensureDatabase, provisionDatabase, withDatabase } from '../db/provision.js';
import { PROJECT_ROOT, loadConfig } from '../lib/config.js';
import { startDevServer } from '../lib/dev-server.js';
import { freePort, startService } from '../lib/services.js';
import { NODE, WORKER_ENTRY, prepareDatabase } from './stack.js';
import { obtainTemporalCli } from '../lib/temporal-cli.js';
import { benchIngest } from '../bench/ingest.js';
import { benchBulkIngest } from '../bench/bulk-ingest.js';
import { benchRuleMatch, ruleBenchReport } from '../bench/rule-match.js';
import { runMetricsBench } from '../bench/delivery-metrics.js';
import { benchFleet, fleetReport } from '../bench/fleet.js';
import { pipelineReport } from '../bench/pipeline-report.js';
import { runMemoryBench } from '../bench/idle-memory.js';
import { newSecretKey } from '../lib/secrets.js';
import { ensureRunUser } from '../lib/system-packages.js';
import { pipelineRun } from '../workflows/index.js';
import { stackwireDataConverter } from '../lib/temporal-client.js';
import { benchWebhook } from './bench-webhook.js';
import { HELP } from '../bench/help.js';

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const BENCH_PACK = path.join(PROJECT_ROOT, 'bench', 'packs', 'benchkit');

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

function runDirect(argv: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0], argv.slice(1), { cwd, stdio: 'ignore' });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      iterations: { type: 'string', default: '30' },
      steps: { type: 'string', default: '10' },
      scripts: { type: 'string' },
      rate: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '30' },
      events: { type: 'string', default: '200000' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const iterations = Number(values.iterations);
  const steps = Number(values.steps);
  if (!Number.isInteger(iterations) || iterations < 1 || !Number.isInteger(steps) || steps < 1) {
    process.stderr.write('bench: --iterations and --steps take whole numbers ≥ 1\n');
    return 2;
  }
  if (values.only !== undefined && !['pipeline', 'ingest', 'bulk-ingest', 'rules', 'webhook', 'metrics', 'fleet', 'memory'].includes(values.only)) {
    process.stderr.write('bench: --only takes pipeline, ingest, bulk-ingest, rules, webhook, metrics, fleet or memory\n');
    return 2;
  }
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  if (!(rate > 0 && rate <= 1000) || !Number.isInteger(seconds) || seconds < 1) {
    process.stderr.write('bench: --rate takes a number of requests per second (≤ 1000), --seconds a whole number ≥ 1\n');
    return 2;
  }
  if (values.only === undefined || values.only === 'rules') {
    const events = Number(values.events);
    if (!Number.isInteger(events) || events < 1) {
      process.stderr.write('bench: --events takes a whole number ≥ 1\n');
      return 2;
    }
    const r = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model ?? '?', node: process.version }, ...benchRuleMatch({ events }) };
    fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'rule-match.json'), `${JSON.stringify(r, null, 2)}\n`);
    process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${ruleBenchReport(r)}\nwritten to bench/results/rule-match.json\n\n`);
    if (values.only === 'rules') return 0;
  }
  const config = loadConfig({ ...process.env, TEMPORAL_ADDRESS: undefined });
  // The benches' workers run scripts as the run user, as npm start's do: created here on a fresh machine.
  ensureRunUser(config.isolation, log);
  if (values.only === undefined || values.only === 'ingest') {
    const code = await benchIngest(config, Number(values.scripts ?? 1000), Boolean(values.json), log);
    if (code !== 0 || values.only === 'ingest') return code;
  }
  if (values.only === undefined || values.only === 'bulk-ingest') {
    const code = await benchBulkIngest(config, Number(values.scripts ?? 20_000), Boolean(values.json), log);
    if (code !== 0 || values.only === 'bulk-ingest') return code;
  }
  if (values.only === undefined || values.only === 'metrics') {
    const code = await runMetricsBench(config, Boolean(values.json), log);
    if (code !== 0 || values.only === 'metrics') return code;
  }
  if (values.only === undefined || values.only === 'memory') {
    const code = await runMemoryBench(config, Boolean(values.json), log);
    if (code !== 0 || values.only === 'memory') return code;
  }
  const runDir = path.join(config.dataDir, 'bench', String(Date.now()));
  fs.mkdirSync(runDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const cli = await obtainTemporalCli(config, process.env, log);
    const server = await startDevServer({
      cli: cli.path,
      port: await freePort(),
      dbFile: path.join(runDir, 'temporal.db'),
      namespace: 'default',
      logFile: path.join(runDir, 'temporal.log'),
    });
    cleanups.push(() => server.service.stop(10_000));
    const pgServer = await provisionDatabase({ ...config, database: { ...config.database, name: 'postgres' } }, log);
    cleanups.push(() => pgServer.stop());
    const dbName = `stackwire_bench_${process.pid}`;
    const admin = withDatabase(pgServer.url, 'postgres');
    await ensureDatabase(admin, dbName);
    cleanups.push(() => dropDatabase(admin, dbName));
    const dbUrl = withDatabase(pgServer.url, dbName);
    await prepareDatabase(dbUrl, [BENCH_PACK], log);

    const region = 'bench';
    const secretKey = newSecretKey();
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      DATABASE_URL: dbUrl,
      STACKWIRE_REGIONS: region,
      STACKWIRE_LOG_LEVEL: 'warn',
      STACKWIRE_SECRET_KEY: secretKey,
    };
    if (values.only === undefined || values.only === 'fleet') {
      const r = await benchFleet({ env, dbUrl, runDir, region, log, quantile, temporalPid: server.service.child.pid });
      process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : fleetReport(r));
      if (values.only === 'fleet') return 0;
    }
    const worker = await startService({
      name: 'worker',
      command: NODE,
      args: [WORKER_ENTRY, '--region', region, '--json'],
      env,
      ready: /worker ready/,
      output: path.join(runDir, 'worker.log'),
    });
    cleanups.push(() => worker.stop(5000));
    const webhook = async () => {
      const r = await benchWebhook({ env, dbUrl, runDir, rate, seconds, log, quantile, stopWorker: () => worker.stop(5000) });
      if (values.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      const line = (what: string, p: typeof r.workersElsewhere) =>
        `  ${what} p50 ${p.latencyMs.p50} ms, p90 ${p.latencyMs.p90} ms, p99 ${p.latencyMs.p99} ms, max ${p.latencyMs.max} ms (achieved ${p.achievedRate}/s)`;
      process.stdout.write(
        [
          `webhook → workflow started, ${r.deliveries} signed deliveries at ${rate}/s, each firing a rule (target p99 ≤ 50 ms):`,
          line('workers elsewhere:     ', r.workersElsewhere),
          line('worker on this machine:', r.workerOnThisMachine),
          'written to bench/results/webhook-latency.json',
          '',
        ].join('\n'),
      );
    };
    if (values.only === 'webhook') {
      await webhook();
      return 0;
    }
    const rawQueue = 'bench.raw';
    const raw = await startService({
      name: 'raw-worker',
      command: NODE,
      args: [path.join(PROJECT_ROOT, 'dist', 'bench', 'raw-worker.js'), server.address, rawQueue],
      env,
      ready: /raw worker ready/,
      output: path.join(runDir, 'raw-worker.log'),
    });
    cleanups.push(() => raw.stop(5000));

    const pool = createPool(dbUrl, 2);
    const action = await getCurrentAction(pool, 'benchkit.step');
    await pool.end();
    if (!action) throw new Error('benchkit.step was not registered');
    const argv = buildArgv(action, {});
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    // Stackwire's worker encrypts its payloads, so its client carries the same codec; the raw baseline has none.
    const client = new Client({ connection, dataConverter: stackwireDataConverter({ secretKey: Buffer.from(secretKey, 'base64'), oldSecretKeys: [] }) });
    const rawClient = new Client({ connection });

    /** A pipeline file's run through the interpreter: `steps` steps in a chain (each needs the one before). */
    const pipelineRequest = (id: string, spec: typeof action, defSteps: PipelineDef['steps']): PipelineRunRequest => ({
      kind: 'definition',
      runId: id,
      definition: { name: 'bench', steps: defSteps },
      pipelines: {},
      actions: { [spec.name]: spec },
      source: { kind: 'file', path: 'bench.yml' },
      inputs: {},
      trigger: { kind: 'bench' },
      actor: 'bench',
      defaultRegion: region,
      regions: [region],
    });
    const chain = (spec: typeof action): PipelineDef['steps'] =>
      Array.from({ length: steps }, (_, i) => ({ id: `step${i + 1}`, action: spec.name, ...(i ? { needs: [`step${i}`] } : {}) }));
    const timePipeline = async (spec: typeof action, defSteps: PipelineDef['steps']): Promise<number> => {
      const id = `bench-${crypto.randomBytes(6).toString('hex')}`;
      const t0 = performance.now();
      await client.workflow.execute(pipelineRun, { taskQueue: regionTaskQueue(region), workflowId: id, args: [pipelineRequest(id, spec, defSteps)] });
      return performance.now() - t0;
    };
    // The same script declared idempotent (its timeout is 30 s or less): the interpreter runs it as a local activity.
    const idempotentAction = { ...action, idempotent: true, timeoutSeconds: Math.min(action.timeoutSeconds, 30) };
    const timeStackwire = () => timePipeline(action, chain(action));
    const timeIdempotent = () => timePipeline(idempotentAction, chain(idempotentAction));
    const timeRaw = async (): Promise<number> => {
      const t0 = performance.now();
      await rawClient.workflow.execute('rawSequence', {
        taskQueue: rawQueue,
        workflowId: `raw-${crypto.randomBytes(6).toString('hex')}`,
        args: [Array.from({ length: steps }, () => ({ argv, cwd: action.packDir }))],
      });
      return performance.now() - t0;
    };
    const timeRawLocal = async (n = steps): Promise<number> => {
      const t0 = performance.now();
      await rawClient.workflow.execute('rawLocalSequence', {
        taskQueue: rawQueue,
        workflowId: `raw-local-${crypto.randomBytes(6).toString('hex')}`,
        args: [Array.from({ length: n }, () => ({ argv, cwd: action.packDir }))],
      });
      return performance.now() - t0;
    };
    // One step alone: what a run costs besides its steps (starting and ending the workflow), to tell the cost of a step itself.
    const timeIdempotentOne = () => timePipeline(idempotentAction, chain(idempotentAction).slice(0, 1));
    const timeDirect = async (): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await runDirect(argv, action.packDir);
      return performance.now() - t0;
    };

    log(`warming up, then ${iterations} iterations of ${steps} steps each (interleaved)`);
    for (let i = 0; i < 3; i++) {
      await timeStackwire();
      await timeIdempotent();
      await timeRaw();
      await timeRawLocal();
      await timeDirect();
    }
    const wall = {
      stackwire: [] as number[],
      idempotent: [] as number[],
      raw: [] as number[],
      rawLocal: [] as number[],
      direct: [] as number[],
      idempotentOne: [] as number[],
      rawLocalOne: [] as number[],
    };
    for (let i = 0; i < iterations; i++) {
      wall.direct.push(await timeDirect());
      wall.stackwire.push(await timeStackwire());
      wall.idempotent.push(await timeIdempotent());
      wall.raw.push(await timeRaw());
      wall.rawLocal.push(await timeRawLocal());
      wall.idempotentOne.push(await timeIdempotentOne());
      wall.rawLocalOne.push(await timeRawLocal(1));
      if (process.stderr.isTTY) process.stderr.write(`\r[bench] ${i + 1}/${iterations}`);
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    // The fan-out: FANOUT items, FANOUT_CONCURRENCY at a time, against the ideal (rounds × one direct step).
    const FANOUT = 500;
    const FANOUT_CONCURRENCY = 20;
    const fanout: number[] = [];
    const fanoutIdempotent: number[] = [];
    const rawFanout: number[] = [];
    const rawLocalFanout: number[] = [];
    for (let i = 0; i < Math.max(1, Math.floor(iterations / 10)); i++) {
      const items = Array.from({ length: FANOUT }, (_, j) => j);
      fanout.push(await timePipeline(action, [{ id: 'each', action: action.name, for_each: items, concurrency: FANOUT_CONCURRENCY }]));
      // The items idempotent: local activities in the fan-out's workflows.
      fanoutIdempotent.push(
        await timePipeline(idempotentAction, [{ id: 'each', action: idempotentAction.name, for_each: items, concurrency: FANOUT_CONCURRENCY }]),
      );
      const t0 = performance.now();
      await rawClient.workflow.execute('rawFanOut', {
        taskQueue: rawQueue,
        workflowId: `raw-fanout-${crypto.randomBytes(6).toString('hex')}`,
        args: [{ argv, cwd: action.packDir }, FANOUT, FANOUT_CONCURRENCY],
      });
      rawFanout.push(performance.now() - t0);
      const t1 = performance.now();
      await rawClient.workflow.execute('rawLocalFanOut', {
        taskQueue: rawQueue,
        workflowId: `raw-local-fanout-${crypto.randomBytes(6).toString('hex')}`,
        args: [{ argv, cwd: action.packDir }, FANOUT, FANOUT_CONCURRENCY],
      });
      rawLocalFanout.push(performance.now() - t1);
    }
    const directMedian = quantile(wall.direct, 0.5);
    // Ideal at the set concurrency: the rounds it takes, each as long as one step of the Stackwire pipeline.
    const fanoutIdeal = Math.ceil(FANOUT / FANOUT_CONCURRENCY) * (quantile(wall.stackwire, 0.5) / steps);
    const perStep = (xs: number[]) => xs.map((w) => (w - directMedian) / steps);
    const stats = (xs: number[]) => ({ median: +quantile(xs, 0.5).toFixed(1), p95: +quantile(xs, 0.95).toFixed(1) });
    // A step's own cost: the 10-step run less the 1-step run, over the 9 steps between, less the script's own time.
    const marginal = (ten: number[], one: number[]) => +((quantile(ten, 0.5) - quantile(one, 0.5)) / (steps - 1) - directMedian / steps).toFixed(1);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      server: 'Temporal CLI dev server 1.5.1 (server 1.29.1, SQLite), eager activity dispatch on',
      iterations,
      steps,
      wallMs: {
        stackwire: stats(wall.stackwire),
        idempotent: stats(wall.idempotent),
        raw: stats(wall.raw),
        rawLocal: stats(wall.rawLocal),
        direct: stats(wall.direct),
      },
      overheadPerStepMs: {
        stackwire: stats(perStep(wall.stackwire)),
        idempotent: stats(perStep(wall.idempotent)),
        raw: stats(perStep(wall.raw)),
        rawLocal: stats(perStep(wall.rawLocal)),
      },
      /** Medians of the 1-step runs, and each step's own overhead: (10-step run − 1-step run) / 9 − one direct script. */
      oneStepWallMs: { idempotent: stats(wall.idempotentOne), rawLocal: stats(wall.rawLocalOne) },
      marginalOverheadPerStepMs: { idempotent: marginal(wall.idempotent, wall.idempotentOne), rawLocal: marginal(wall.rawLocal, wall.rawLocalOne) },
      fanout: {
        items: FANOUT,
        concurrency: FANOUT_CONCURRENCY,
        wallMs: stats(fanout),
        idempotentWallMs: stats(fanoutIdempotent),
        rawWallMs: stats(rawFanout),
        rawLocalWallMs: stats(rawLocalFanout),
        idealMs: +fanoutIdeal.toFixed(1),
        overIdeal: +(quantile(fanout, 0.5) / fanoutIdeal).toFixed(2),
        idempotentOverIdeal: +(quantile(fanoutIdempotent, 0.5) / fanoutIdeal).toFixed(2),
        rawOverIdeal: +(quantile(rawFanout, 0.5) / fanoutIdeal).toFixed(2),
        rawLocalOverIdeal: +(quantile(rawLocalFanout, 0.5) / fanoutIdeal).toFixed(2),
      },
      ratios: {
        stackwireOverRawWall: +(quantile(wall.stackwire, 0.5) / quantile(wall.raw, 0.5)).toFixed(2),
        stackwireOverRawOverhead: +(quantile(perStep(wall.stackwire), 0.5) / quantile(perStep(wall.raw), 0.5)).toFixed(2),
        stackwireOverDirectWall: +(quantile(wall.stackwire, 0.5) / directMedian).toFixed(2),
        rawOverDirectWall: +(quantile(wall.raw, 0.5) / directMedian).toFixed(2),
      },
      target: 'non-idempotent: stackwireOverRawWall ≤ 1.2; idempotent: overhead ≤ 10 ms/step; fan-out: overIdeal ≤ 1.3',
    };
    const file = path.join(PROJECT_ROOT, 'bench', 'results', 'pipeline-overhead.json');
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : pipelineReport(result, path.relative(PROJECT_ROOT, file)));
    if (values.only === undefined) await webhook();
    return 0;
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`cleanup: ${String(e)}`));
  }
}

process.exitCode = await main();
