/**
 * `npm run bench -- --only bulk-ingest [--scripts N]`: N generated scripts (default 20,000) ingested
 * through the public path — `stackwire ingest` (walk, hash, check the blobs 5,000 hashes a request,
 * upload ≤ 8 MB a request), the API (202, the manifest stored as a blob), a `packIngest` workflow on a
 * regional worker (analysis, 500 actions a statement, the report to Postgres), the report read back in
 * pages — on a dev server, Postgres, a worker and the API of its own. First ingest, then an unchanged
 * re-ingest. → bench/results/bulk-ingest.json
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IngestView } from '../common/api-types-ingest.js';
import { dropDatabase, ensureDatabase, provisionDatabase, withDatabase } from '../db/provision.js';
import { PROJECT_ROOT, type Config } from '../lib/config.js';
import { startDevServer } from '../lib/dev-server.js';
import { CLI_ENTRY } from '../lib/paths.js';
import { newSecretKey } from '../lib/secrets.js';
import { freePort, startService } from '../lib/services.js';
import { obtainTemporalCli } from '../lib/temporal-cli.js';
import { API_ENTRY, NODE, WORKER_ENTRY, ensureLocalAdminKey, prepareDatabase } from '../scripts/stack.js';
import { generateScripts } from './generate-scripts.js';

interface Run {
  seconds: number;
  /** From the API's 202 to the report recorded (the ingests row): the worker's share. */
  workflowSeconds: number;
  summary: NonNullable<IngestView['summary']>;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function benchBulkIngest(config: Config, count: number, json: boolean, log: (m: string) => void): Promise<number> {
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write('bench: --scripts takes a whole number ≥ 1\n');
    return 2;
  }
  const runDir = path.join(config.dataDir, 'bench', `bulk-${Date.now()}`);
  fs.mkdirSync(runDir, { recursive: true });
  const tree = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-bench-bulk-')), 'bulk');
  const cleanups: (() => Promise<void>)[] = [() => Promise.resolve(fs.rmSync(path.dirname(tree), { recursive: true, force: true }))];
  try {
    generateScripts(tree, count);
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
    const dbName = `stackwire_bench_bulk_${process.pid}`;
    const admin = withDatabase(pgServer.url, 'postgres');
    await ensureDatabase(admin, dbName);
    cleanups.push(() => dropDatabase(admin, dbName));
    const dbUrl = withDatabase(pgServer.url, dbName);
    await prepareDatabase(dbUrl, [], log);
    const region = 'bench';
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      DATABASE_URL: dbUrl,
      STACKWIRE_REGIONS: region,
      STACKWIRE_LOG_LEVEL: 'warn',
      STACKWIRE_SECRET_KEY: newSecretKey(),
    };
    const worker = await startService({
      name: 'worker',
      command: NODE,
      args: [WORKER_ENTRY, '--region', region, '--json'],
      env,
      ready: /worker ready/,
      output: path.join(runDir, 'worker.log'),
    });
    cleanups.push(() => worker.stop(5000));
    const port = await freePort();
    const api = await startService({
      name: 'api',
      command: NODE,
      args: [API_ENTRY, '--port', String(port), '--json'],
      env,
      ready: /"event":"api ready"/,
      output: path.join(runDir, 'api.log'),
    });
    cleanups.push(() => api.stop(5000));
    const url = `http://127.0.0.1:${port}`;
    const { key } = await ensureLocalAdminKey(dbUrl, path.join(runDir, 'credentials.json'), url, log);
    const cliEnv = { ...env, STACKWIRE_API_URL: url, STACKWIRE_API_KEY: key, STACKWIRE_CREDENTIALS: path.join(runDir, 'no-credentials.json') };
    const report = async (id: string): Promise<IngestView> => {
      const res = await fetch(`${url}/api/v1/ingests/${id}`, { headers: { authorization: `Bearer ${key}` } });
      return (await res.json()) as IngestView;
    };
    const run = async (what: string): Promise<Run> => {
      log(`${what}: stackwire ingest of ${count} scripts`);
      const t0 = performance.now();
      const r = await runCli(['ingest', tree, '--pack', 'bulk', '--no-write'], cliEnv);
      const seconds = (performance.now() - t0) / 1000;
      if (r.code !== 0) throw new Error(`stackwire ingest exited ${r.code}: ${r.stderr.slice(-2000)}`);
      const id = /stackwire pack report (ingest-[\w-]+)/.exec(r.stdout)?.[1];
      if (!id) throw new Error(`no ingest id in the output: ${r.stdout.slice(-2000)}`);
      const view = await report(id);
      if (view.status !== 'succeeded' || !view.summary) throw new Error(`ingest ${id}: ${view.status} ${view.error ?? ''}`);
      return { seconds, workflowSeconds: (Date.parse(view.finishedAt!) - Date.parse(view.createdAt)) / 1000, summary: view.summary };
    };
    const first = await run('first ingest');
    const again = await run('unchanged re-ingest');
    const round = (x: number) => +x.toFixed(2);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', node: process.version, loadAverage: os.loadavg().map(round) },
      scripts: count,
      firstIngest: {
        seconds: round(first.seconds),
        workflowSeconds: round(first.workflowSeconds),
        scriptsPerSecond: Math.round(count / first.seconds),
        added: first.summary.added,
      },
      unchangedReingest: {
        seconds: round(again.seconds),
        workflowSeconds: round(again.workflowSeconds),
        scriptsPerSecond: Math.round(count / again.seconds),
        unchanged: again.summary.unchanged,
        changed: again.summary.changed + again.summary.added,
      },
    };
    fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'bulk-ingest.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        [
          `stackwire ingest of ${count} generated scripts through the API and a worker (load average ${result.machine.loadAverage.join(' ')})`,
          `  first ingest:        ${result.firstIngest.seconds} s (${result.firstIngest.workflowSeconds} s on the worker) → ${result.firstIngest.scriptsPerSecond} scripts/s, ${result.firstIngest.added} actions`,
          `  unchanged re-ingest: ${result.unchangedReingest.seconds} s (${result.unchangedReingest.workflowSeconds} s on the worker) → ${result.unchangedReingest.scriptsPerSecond} scripts/s (${result.unchangedReingest.changed} changed)`,
          'written to bench/results/bulk-ingest.json',
          '',
        ].join('\n'),
      );
    return 0;
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`cleanup: ${String(e)}`));
  }
}
