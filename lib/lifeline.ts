/**
 * No orphans (lib/spawn.ts): every process a Stackwire process (a worker above all) starts carries a
 * lifeline.
 *
 * 1. A marker in its environment, `STACKWIRE_LIFELINE=<owner pid>.<owner start time>.<random>`, which
 *    everything it starts inherits — also what leaves its process group (Puppet's `exec` runs commands
 *    in a session of their own) or is reparented to init.
 * 2. One guardian per owner (a fixed bash program, its own process group, started at the owner's first
 *    process and again if it ever ends) holding the reading end of a pipe whose writing end only the
 *    owner holds; the owner tells it each group that starts and ends. When the owner dies — by any
 *    signal, SIGKILL included — the kernel closes the pipe, and the guardian kills every group still
 *    running, then every process whose marker names the owner.
 * 3. At start, a worker reaps what a dead owner on this host left behind — a process whose marker names
 *    an owner that is no longer running — should its guardian have died too (`reapOrphans`).
 * Only a process that both clears its environment and leaves its group escapes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';

export const LIFELINE_VAR = 'STACKWIRE_LIFELINE';

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or undefined when it is gone. */
function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const OWNER = `${process.pid}.${startTime('self') ?? '0'}`;

/** A new marker value for one process tree of ours. */
export function lifelineMarker(): string {
  return `${OWNER}.${crypto.randomBytes(6).toString('hex')}`;
}

/**
 * The guardian: reads lines from fd 3 — `+<pgid>` when a group starts, `-<pgid>` when it ends — until
 * EOF, which only the death of its owner brings (the owner holds the other end and never closes it).
 * Then it kills every group still listed, and every process whose marker names its owner ($1),
 * three passes for what forks meanwhile. A fixed program; the owner id is its only argument.
 */
const GUARDIAN = [
  'declare -A g',
  'while IFS= read -r -u 3 l; do',
  '  case "$l" in',
  '    +*) g[${l#+}]=1 ;;',
  '    -*) unset "g[${l#-}]" ;;',
  '  esac',
  'done',
  'for p in "${!g[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done',
  'for i in 1 2 3; do',
  // (grep's status is 2 when a process vanished while it read, matches or not: the list is what counts)
  `  m=$(grep -lzF -- "${LIFELINE_VAR}=$1." /proc/[0-9]*/environ 2>/dev/null); [ -n "$m" ] || break`,
  '  for f in $m; do p=${f#/proc/}; kill -KILL "${p%/environ}" 2>/dev/null; done',
  'done',
].join('\n');

let guardian: { proc: ChildProcess; pipe: NodeJS.WritableStream } | undefined;
/** The groups running now: told to a guardian that has to be started again. */
const groups = new Set<number>();

/** This process's guardian, started (again) when there is none. */
function ensureGuardian(): { proc: ChildProcess; pipe: NodeJS.WritableStream } | undefined {
  if (guardian) return guardian;
  // Said on stderr (the owner's log): while there is no guardian, a death of this process leaves its groups running.
  const warn = (what: string) => process.emitWarning(`the lifeline guardian of process ${process.pid} ${what}`);
  try {
    const proc = spawn('/bin/bash', ['-c', GUARDIAN, 'stackwire-lifeline', OWNER], {
      env: { PATH: '/usr/bin:/bin' },
      detached: true, // its own group: it must outlive us to do its job, and not be killed with a group of ours
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      shell: false,
    });
    const pipe = proc.stdio[3] as NodeJS.WritableStream & { unref?: () => void; on: (e: string, f: () => void) => void };
    pipe.on('error', () => undefined);
    const current = { proc, pipe };
    proc.on('error', (e) => warn(`could not start (${e.message}); started again at the next process`));
    proc.once('exit', (code, signal) => {
      if (guardian === current) guardian = undefined;
      warn(`ended (${signal ?? `exit code ${code}`}); started again at once`);
      if (groups.size) ensureGuardian();
    });
    proc.unref();
    pipe.unref?.();
    guardian = current;
    for (const pgid of groups) pipe.write(`+${pgid}\n`);
    return current;
  } catch (e) {
    warn(`could not start (${(e as Error).message})`);
    return undefined;
  }
}

/**
 * Puts process group `pgid` under this process's guardian (its processes carry this process's marker,
 * lifelineMarker()). Call the function it returns when the group has ended.
 */
export function guard(pgid: number): () => void {
  groups.add(pgid);
  ensureGuardian()?.pipe.write(`+${pgid}\n`);
  return () => {
    if (!groups.delete(pgid)) return;
    guardian?.pipe.write(`-${pgid}\n`);
  };
}

/** Each process's pid (as text) and environment, of those this user may read. */
function* environs(): Generator<[string, string]> {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      yield [name, fs.readFileSync(`/proc/${name}/environ`, 'latin1')];
    } catch {
      // gone, or not ours to read
    }
  }
}

/**
 * Kills every process on this host whose lifeline marker names an owner that is no longer running
 * (a worker that died, and whose watchers died too). Returns the pids killed. Needs to read other
 * users' /proc/<pid>/environ, so it finds only what this user may read (all of it, as root).
 */
export function reapOrphans(): number[] {
  const killed: number[] = [];
  const owners = new Map<string, boolean>();
  for (const [name, env] of environs()) {
    const entry = env.split('\0').find((e) => e.startsWith(`${LIFELINE_VAR}=`));
    const m = entry && /^[^=]+=(\d+)\.(\d+)\.[0-9a-f]+$/.exec(entry);
    if (!m) continue;
    const owner = `${m[1]}.${m[2]}`;
    if (!owners.has(owner)) owners.set(owner, startTime(Number(m[1])) === m[2]);
    if (owners.get(owner)) continue; // its owner runs: not an orphan
    try {
      process.kill(Number(name), 'SIGKILL');
      killed.push(Number(name));
    } catch {
      /* already gone */
    }
  }
  return killed;
}

/** The process group of a running process (/proc/<pid>/stat field 5), or undefined when it is gone. */
function groupOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/**
 * Kills (SIGKILL) every process carrying one of these exact markers — each one process tree of ours,
 * whether or not it stayed in its group — in one walk of /proc, and says per marker which it killed and
 * which of them led its own group (the process that was started with the marker, when it still runs).
 * Used when the process that started them (the worker's spawner) died, maybe before the worker learned
 * their pids.
 */
export function killMarked(markers: string[]): Map<string, { killed: number[]; leaders: number[] }> {
  const out = new Map(markers.map((m) => [m, { killed: [] as number[], leaders: [] as number[] }]));
  if (!markers.length) return out;
  const prefix = `${LIFELINE_VAR}=`;
  for (const [name, env] of environs()) {
    const entry = env.split('\0').find((e) => e.startsWith(prefix));
    const found = entry && out.get(entry.slice(prefix.length));
    if (!found) continue;
    const pid = Number(name);
    const leader = groupOf(pid) === pid;
    try {
      process.kill(pid, 'SIGKILL');
      found.killed.push(pid);
      if (leader) found.leaders.push(pid);
    } catch {
      /* already gone */
    }
  }
  return out;
}
