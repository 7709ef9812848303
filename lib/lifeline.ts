/**
 * No orphans (lib/spawn.ts): every process a worker starts carries a lifeline.
 *
 * 1. A marker in its environment, `STACKWIRE_LIFELINE=<owner pid>.<owner start time>.<random>`, which
 *    everything it starts inherits — also what leaves its process group (Puppet's `exec` runs commands
 *    in a session of their own) or is reparented to init.
 * 2. A watcher beside it (a fixed bash program, its own process group) holding the reading end of a
 *    pipe whose writing end only the owner holds. When the owner dies — by any signal, SIGKILL
 *    included — the kernel closes the pipe, and the watcher kills the process group, then every process
 *    that carries the marker (read from /proc/<pid>/environ; three passes, for what forks meanwhile).
 *    Every second it also checks that the group still exists and leaves when it does not, so a watcher
 *    never outlives its group (whose id could be reused by then).
 * 3. At start, a worker reaps what a dead owner on this host left behind — a process whose marker names
 *    an owner that is no longer running — should its watcher have died too (`reapOrphans`).
 * A process that clears its environment and leaves its group escapes; nothing else does.
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

const WATCHER = [
  'while :; do',
  '  read -r -t 1 -u 3 _; s=$?',
  '  if [ $s -eq 0 ]; then continue; fi',
  '  if [ $s -gt 128 ]; then kill -0 -- "-$1" 2>/dev/null || exit 0; continue; fi',
  '  kill -KILL -- "-$1" 2>/dev/null',
  '  for i in 1 2 3; do',
  `    m=$(grep -lzxF -- "${LIFELINE_VAR}=$2" /proc/[0-9]*/environ 2>/dev/null) || break`,
  '    for f in $m; do p=${f#/proc/}; kill -KILL "${p%/environ}" 2>/dev/null; done',
  '  done',
  '  exit 0',
  'done',
].join('\n');

/** Every live watcher, held here so that nothing of it (its pipe above all) can be collected while its group runs. */
const watchers = new Set<ChildProcess>();

/** Starts the watcher of group `pgid` (whose processes carry `marker`); its handle, to stop it when the group ends normally. */
export function startWatcher(pgid: number, marker: string, groupEnded: () => boolean): ChildProcess | undefined {
  // Said on stderr (the worker's log): a group without its watcher would outlive a dead worker.
  const warn = (what: string) => process.emitWarning(`the lifeline watcher of process group ${pgid} ${what}; that group is not killed if this process dies`);
  try {
    const w = spawn('/bin/bash', ['-c', WATCHER, 'stackwire-lifeline', String(pgid), marker], {
      env: { PATH: '/usr/bin:/bin' },
      detached: true, // its own group: it must outlive us to do its job, and not be killed by kill(-pgid)
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      shell: false,
    });
    w.on('error', (e) => warn(`could not start (${e.message})`));
    watchers.add(w);
    w.once('exit', (code, signal) => {
      watchers.delete(w);
      if (!groupEnded() && code !== 0) warn(`ended early (${signal ?? `exit code ${code}`})`);
    });
    w.unref();
    (w.stdio[3] as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
    return w;
  } catch {
    return undefined;
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
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let env: string;
    try {
      env = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
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
