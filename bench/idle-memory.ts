/**
 * `npm run bench -- --only memory`: the resident memory of the local stack as a user gets it. Runs
 * `npm start` itself (in a data folder, database and ports of its own, so a running stack is not
 * disturbed), waits for "Stackwire is ready.", lets it idle 30 s, then reads every process of the tree
 * under npm from /proc: RSS (what `ps` shows; shared pages counted in each process) and PSS (shared
 * pages divided among their users: the sum is what the stack really takes). Once per worker layout:
 * `shared` (the default: orchestrator and regions in one process) and `per-role` (a process each).
 * The Postgres server is not counted (the machine's own, as on these machines; not a child of npm).
 * → bench/results/idle-memory.json
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, type Config } from '../lib/config.js';
import { dropDatabase, withDatabase } from '../db/provision.js';
import { freePort } from '../lib/services.js';

export interface ProcessMemory {
  pid: number;
  what: string;
  rssMiB: number;
  pssMiB: number;
}

export interface LayoutMemory {
  layout: 'shared' | 'per-role';
  readySeconds: number;
  totalRssMiB: number;
  totalPssMiB: number;
  processes: ProcessMemory[];
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

function field(file: string, name: string): number {
  try {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // gone meanwhile
  }
}

/** The process and all its descendants, from /proc. */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

/** A readable name for a process of the stack, from its command line. */
function describe(pid: number): string {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return 'gone';
  }
  const line = argv.join(' ');
  if (/npm-cli\.js|\bnpm\b/.test(argv[1] ?? argv[0] ?? '') && !line.includes('bootstrap.js')) return 'npm';
  if (line.includes('scripts/bootstrap.js')) return argv[0]?.endsWith('sh') ? 'sh (npm script)' : 'supervisor (npm start)';
  if (line.includes('server start-dev')) return 'Temporal dev server (with its Web UI)';
  if (line.includes('dist/api/server.js')) return 'API';
  const w = /dist\/workers\/worker\.js (.*?)(?: --metrics-port.*)?$/.exec(line);
  if (w) return `worker ${w[1]}`;
  if (line.includes('STACKWIRE_LIFELINE') || argv[0]?.endsWith('bash')) return 'lifeline guardian';
  if (line.includes('dist/lib/spawner-process.js')) return "a worker's spawner";
  return line.slice(0, 60);
}

async function measureLayout(config: Config, layout: 'shared' | 'per-role', log: (m: string) => void): Promise<LayoutMemory> {
  const dataDir = path.join(config.dataDir, 'bench', `memory-${layout}-${Date.now()}`);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const dbName = `stackwire_bench_memory_${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STACKWIRE_DATA_DIR: dataDir,
    STACKWIRE_DATABASE: dbName,
    STACKWIRE_API_PORT: String(await freePort()),
    STACKWIRE_TEMPORAL_PORT: String(await freePort()),
    STACKWIRE_TEMPORAL_UI_PORT: String(await freePort()),
    STACKWIRE_CREDENTIALS: path.join(dataDir, 'credentials.json'),
    STACKWIRE_LOCAL_WORKERS: layout,
  };
  delete env.TEMPORAL_ADDRESS;
  delete env.DATABASE_URL;
  const started = Date.now();
  // Its own process group: the bench stops it as Ctrl-C would, by signalling the whole group.
  const npm = spawn('npm', ['start'], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = fs.createWriteStream(path.join(dataDir, 'npm-start.out'));
  npm.stdout.pipe(output);
  npm.stderr.pipe(output);
  let exited = false;
  const exit = new Promise<void>((resolve) => npm.on('exit', () => ((exited = true), resolve())));
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(
        () => reject(new Error(`npm start did not say "Stackwire is ready." within 10 minutes (see ${dataDir}/npm-start.out)`)),
        600_000,
      );
      npm.stdout.on('data', (d: Buffer) => {
        seen = (seen + d.toString()).slice(-4096);
        if (seen.includes('Stackwire is ready.')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`npm start exited before it was ready (see ${dataDir}/npm-start.out)`));
      });
    });
    const readySeconds = (Date.now() - started) / 1000;
    log(`memory (${layout}): ready after ${readySeconds.toFixed(1)} s; idling 30 s`);
    await new Promise((r) => setTimeout(r, 30_000));
    const processes = tree(npm.pid!).map((pid) => ({
      pid,
      what: describe(pid),
      rssMiB: mib(field(`/proc/${pid}/status`, 'VmRSS')),
      pssMiB: mib(field(`/proc/${pid}/smaps_rollup`, 'Pss')),
    }));
    const sum = (k: 'rssMiB' | 'pssMiB') => Math.round(processes.reduce((a, p) => a + p[k], 0));
    return { layout, readySeconds: Math.round(readySeconds), totalRssMiB: sum('rssMiB'), totalPssMiB: sum('pssMiB'), processes };
  } finally {
    if (!exited) process.kill(-npm.pid!, 'SIGINT');
    await exit;
    // npm exits at once; the stack stops after it (API, workers, Temporal, in order). Wait for the whole
    // group: a bench that went on (and ended, closing the pipes the stack writes to) left the per-role
    // layout's workers running, their supervisor gone.
    const groupAlive = () => {
      try {
        process.kill(-npm.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 60_000;
    while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    if (groupAlive()) process.kill(-npm.pid!, 'SIGKILL');
    const admin = withDatabase(`postgresql://postgres@${config.database.localHost}:${config.database.localPort}/postgres`, 'postgres');
    await dropDatabase(admin, dbName).catch((e: unknown) => log(`memory: could not drop ${dbName}: ${String(e)}`));
  }
}

export async function runMemoryBench(config: Config, json: boolean, log: (m: string) => void): Promise<number> {
  const layouts: LayoutMemory[] = [];
  for (const layout of ['shared', 'per-role'] as const) layouts.push(await measureLayout(config, layout, log));
  const result = { date: new Date().toISOString(), idleSeconds: 30, targetMiB: 600, layouts };
  fs.writeFileSync(path.join(PROJECT_ROOT, 'bench', 'results', 'idle-memory.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else
    process.stdout.write(
      [
        'npm start, idle 30 s after ready: resident memory of every process under npm (target ≤ 600 MB)',
        ...layouts.flatMap((l) => [
          `  ${l.layout}: RSS ${l.totalRssMiB} MiB, PSS ${l.totalPssMiB} MiB (ready after ${l.readySeconds} s)`,
          ...l.processes.map((p) => `    ${p.what.padEnd(48)} RSS ${String(p.rssMiB).padStart(6)} MiB  PSS ${String(p.pssMiB).padStart(6)} MiB`),
        ]),
        'written to bench/results/idle-memory.json',
        '',
      ].join('\n'),
    );
  return 0;
}
