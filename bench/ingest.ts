/**
 * `npm run bench -- --only ingest`: the ingest of N generated scripts with the worker's own code
 * against Postgres (no API, no Temporal) — analysis and catalog throughput, peak memory.
 * → bench/results/ingest.json. The same through the whole stack: bench/bulk-ingest.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPool } from '../db/pool.js';
import { dropDatabase, ensureDatabase, provisionDatabase, withDatabase } from '../db/provision.js';
import { analyserStats } from '../ingest/analyze.js';
import { ingest } from '../ingest/ingest.js';
import { PROJECT_ROOT, type Config } from '../lib/config.js';
import { prepareDatabase } from '../scripts/stack.js';
import { generateScripts } from './generate-scripts.js';

export async function benchIngest(config: Config, count: number, json: boolean, log: (m: string) => void): Promise<number> {
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write('bench: --scripts takes a whole number ≥ 1\n');
    return 2;
  }
  analyserStats.report = true;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-bench-ingest-'));
  generateScripts(dir, count);
  const pgServer = await provisionDatabase({ ...config, database: { ...config.database, name: 'postgres' } }, log);
  const dbName = `stackwire_bench_ingest_${process.pid}`;
  const admin = withDatabase(pgServer.url, 'postgres');
  await ensureDatabase(admin, dbName);
  const dbUrl = withDatabase(pgServer.url, dbName);
  await prepareDatabase(dbUrl, [], log);
  const pool = createPool(dbUrl, 4);
  try {
    const deps = { pool, env: config.scriptEnv, git: config.git, ingestPaths: [dir] };
    const run = async () => {
      const t0 = performance.now();
      const report = await ingest(deps, { pack: 'benchgen', source: { kind: 'path', path: dir }, mode: 'apply' });
      return { ms: performance.now() - t0, report };
    };
    log(`ingesting ${count} generated scripts (${dir})`);
    const first = await run();
    const again = await run();
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', node: process.version },
      scripts: count,
      actions: first.report.summary.added,
      firstIngest: { seconds: +(first.ms / 1000).toFixed(2), scriptsPerSecond: Math.round(count / (first.ms / 1000)) },
      unchangedReingest: {
        seconds: +(again.ms / 1000).toFixed(2),
        scriptsPerSecond: Math.round(count / (again.ms / 1000)),
        changed: again.report.summary.changed + again.report.summary.added,
      },
      peakMemoryMiB: { node: Math.round(process.resourceUsage().maxRSS / 1024), pythonAnalyser: Math.round(analyserStats.pythonMaxRssKb / 1024) },
    };
    fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'ingest.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        [
          `ingest of ${count} generated scripts (${result.actions} actions)`,
          `  first ingest:        ${result.firstIngest.seconds} s → ${result.firstIngest.scriptsPerSecond} scripts/s`,
          `  unchanged re-ingest: ${result.unchangedReingest.seconds} s → ${result.unchangedReingest.scriptsPerSecond} scripts/s (${result.unchangedReingest.changed} changed)`,
          `  peak memory:         ${result.peakMemoryMiB.node} MiB (node, analysis + catalog), ${result.peakMemoryMiB.pythonAnalyser} MiB (python analyser)`,
          'written to bench/results/ingest.json',
          '',
        ].join('\n'),
      );
    return 0;
  } finally {
    await pool.end();
    await dropDatabase(admin, dbName);
    await pgServer.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
