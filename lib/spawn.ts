/**
 * The one way Stackwire's activities and ingest start a process (scripts, puppet, checks, git, the
 * Python analyser): an argv array (never a shell), exactly the environment given (nothing of ours is
 * inherited), optionally as another user (uid/gid; supplementary groups are dropped), in a process
 * group of its own so a timeout, an abort or the end of the run reaches everything it started:
 * SIGTERM to the group, SIGKILL after a grace time. stdout and stderr are captured up to a byte cap
 * (the last bytes are kept) and/or streamed to callbacks.
 *
 * No orphans (lib/lifeline.ts): each process carries a lifeline marker in its environment, and this
 * process's guardian kills its group and everything carrying the marker when this process dies — by
 * any signal, SIGKILL included.
 *
 * lib/services.ts (Stackwire's own long-running processes, with ready lines and log files) and the
 * Temporal CLI build (lib/temporal-cli.ts) stay separate: they inherit our environment on purpose and
 * are not stopped by group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import os from 'node:os';
import readline from 'node:readline';
import { LIFELINE_VAR, guard, lifelineMarker } from './lifeline.js';
import { Launched, type Spawner } from './spawner.js';

export interface ProcessOptions {
  /** Program and arguments; the program is looked up in env.PATH when it has no "/". */
  argv: string[];
  /** The whole environment of the child. */
  env: Record<string, string>;
  cwd?: string;
  /** Run as this user and group (the worker must be root to use another user's). */
  uid?: number;
  gid?: number;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string | Buffer;
  /**
   * Keep stdin open after writing it, until the process exits: a remote run (lib/ssh.ts) watches its
   * connection's input to learn that the client was stopped.
   */
  stdinOpen?: boolean;
  /** Stop (SIGTERM to the group, SIGKILL after killGraceMs) after this long. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL; default 5 s. */
  killGraceMs?: number;
  /** Aborting it stops the process like a timeout does. */
  signal?: AbortSignal;
  /** Bytes of stdout and of stderr kept in the result (the last ones); default 64 KiB, 0 keeps none. */
  captureBytes?: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Kill the group, and what it started, when this process dies (default true; lib/lifeline.ts). Adds STACKWIRE_LIFELINE to the environment. */
  lifeline?: boolean;
  /**
   * A niceness for bulk work (1–19): the process yields the CPU to the worker's own event loop (its
   * heartbeats, workflow tasks) and to scripts on a busy machine.
   */
  nice?: number;
  /**
   * A request/answer channel on the child's fd 3 (a socket pair): each JSON line the child writes is
   * passed to this handler, and its answer (or {"error": message}) is written back as one JSON line.
   * Requests are answered one at a time, in order.
   */
  channel?: (request: unknown) => Promise<unknown>;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** More output came than captureBytes; the start was dropped. */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Why it was stopped, when we stopped it. */
  stoppedBy?: 'timeout' | 'abort' | 'request';
  /** It could not be started at all (ENOENT, EACCES …). */
  spawnError?: NodeJS.ErrnoException;
  /** The worker's spawner died while it ran: its group was killed (SIGKILL). */
  lostSpawner?: boolean;
}

export interface RunningProcess {
  /** Known once it runs (at once, or when the spawner says so: see `started`). */
  pid: number | undefined;
  /** Its pid once it runs; undefined when it could not start. */
  started: Promise<number | undefined>;
  /** SIGTERM to the whole group, SIGKILL after the grace time; the first reason wins. */
  stop(reason?: 'timeout' | 'abort' | 'request'): void;
  /** Resolves (never rejects) once the process has ended and its output is read. */
  done: Promise<ProcessResult>;
}

class Tail {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  constructor(private readonly cap: number) {}
  push(b: Buffer): void {
    this.total += b.length;
    if (this.cap <= 0) return;
    this.chunks.push(b);
    this.kept += b.length;
    while (this.kept - this.chunks[0].length >= this.cap) this.kept -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.cap)).toString('utf8');
  }
  get truncated(): boolean {
    return this.total > this.cap;
  }
}

function serveChannel(sock: Duplex, handler: (request: unknown) => Promise<unknown>): void {
  sock.on('error', () => undefined); // the child went away mid-answer
  const lines = readline.createInterface({ input: sock, crlfDelay: Infinity });
  let queue = Promise.resolve();
  lines.on('line', (line) => {
    queue = queue.then(async () => {
      let answer: unknown;
      try {
        answer = await handler(JSON.parse(line));
      } catch (err) {
        answer = { error: err instanceof Error ? err.message : String(err) };
      }
      if (!sock.destroyed) sock.write(`${JSON.stringify(answer)}\n`);
    });
  });
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig); // root may signal a group that runs as another user
  } catch {
    /* the group is already empty */
  }
}

/** The worker's spawner (lib/spawner.ts), when it has one: processes start there, not by forking this process. */
let spawner: Spawner | undefined;

export function useSpawner(s: Spawner | undefined): void {
  spawner = s;
}

type Child = ChildProcess | Launched;

function launch(o: ProcessOptions, command: string, args: string[], env: Record<string, string>): Child {
  if (spawner)
    return spawner.launch({
      command,
      args,
      env,
      stdin: o.stdin !== undefined,
      channel: Boolean(o.channel),
      ...idAndPlace(o),
      ...(o.nice !== undefined ? { nice: o.nice } : {}),
    });
  return spawn(command, args, {
    env,
    ...idAndPlace(o),
    detached: true, // a process group of its own: kill(-pid) reaches everything it started
    stdio: [o.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(o.channel ? (['pipe'] as const) : [])],
    shell: false,
  });
}

function idAndPlace(o: ProcessOptions): { cwd?: string; uid?: number; gid?: number } {
  return {
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    ...(o.uid !== undefined ? { uid: o.uid } : {}),
    ...(o.gid !== undefined ? { gid: o.gid } : {}),
  };
}

export function startProcess(o: ProcessOptions): RunningProcess {
  const [command, ...args] = o.argv;
  if (!command) throw new Error('startProcess: empty argv');
  const grace = o.killGraceMs ?? 5000;
  const out = new Tail(o.captureBytes ?? 65536);
  const err = new Tail(o.captureBytes ?? 65536);
  let child: Child;
  const marker = o.lifeline !== false ? lifelineMarker() : undefined;
  try {
    child = launch(o, command, args, marker ? { ...o.env, [LIFELINE_VAR]: marker } : o.env);
  } catch (e) {
    // Some failures (EPERM for a uid we may not take, EINVAL) are thrown rather than emitted.
    const spawnError = e as NodeJS.ErrnoException;
    const result: ProcessResult = { code: null, signal: null, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false, spawnError };
    return { pid: undefined, started: Promise.resolve(undefined), stop: () => undefined, done: Promise.resolve(result) };
  }
  let exited = false;
  let release: (() => void) | undefined;
  let stoppedBy: ProcessResult['stoppedBy'];
  let killTimer: NodeJS.Timeout | undefined;
  let signalled = false;
  const signalStop = () => {
    if (signalled) return;
    signalled = true;
    killGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), grace);
  };
  const stop = (reason: 'timeout' | 'abort' | 'request' = 'request') => {
    if (stoppedBy || exited) return;
    stoppedBy = reason;
    // Asked before the spawner said it runs: stopped as soon as it does.
    if (child.pid !== undefined) signalStop();
  };
  /** Once it runs (at once for a process of ours, at `spawn` for the spawner's): its pipes, priority and guardian. */
  const running = () => {
    const pid = child.pid!;
    // (The spawner sets the niceness itself, at once.)
    if (o.nice !== undefined && !(child instanceof Launched)) {
      try {
        os.setPriority(pid, o.nice);
      } catch {
        // Gone already, or not allowed: it runs at the default priority.
      }
    }
    if (marker) release = guard(pid);
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a program that exits without reading stdin
      if (o.stdinOpen) child.stdin.write(o.stdin ?? '');
      else child.stdin.end(o.stdin ?? '');
    }
    child.stdout!.on('data', (b: Buffer) => {
      out.push(b);
      o.onStdout?.(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      err.push(b);
      o.onStderr?.(b);
    });
    const channel = child instanceof Launched ? child.channel : child.stdio[3];
    if (o.channel && channel) serveChannel(channel as Duplex, o.channel);
    if (stoppedBy) signalStop();
  };
  if (child instanceof Launched) child.once('spawn', running);
  else if (child.pid !== undefined) running();
  const timer = o.timeoutMs !== undefined ? setTimeout(() => stop('timeout'), o.timeoutMs) : undefined;
  const onAbort = () => stop('abort');
  if (o.signal?.aborted) queueMicrotask(onAbort);
  else o.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<ProcessResult>((resolve) => {
    let spawnError: NodeJS.ErrnoException | undefined;
    let status: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    const finish = () => {
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve({
        ...status,
        stdout: out.text(),
        stderr: err.text(),
        stdoutTruncated: out.truncated,
        stderrTruncated: err.truncated,
        ...(stoppedBy ? { stoppedBy } : {}),
        ...(spawnError ? { spawnError } : {}),
        ...(child instanceof Launched && child.lostSpawner ? { lostSpawner: true } : {}),
      });
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      // Only a failure to start ends it here (the spawner's say so only then); a process of ours with
      // a pid has 'close' follow.
      if (child.pid === undefined || child instanceof Launched) {
        spawnError = e;
        exited = true;
        finish();
      }
    });
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      exited = true;
      status = { code, signal };
      // Whatever the outcome, nothing of the group may outlive the process (and hold its pipes open).
      killGroup(child.pid, 'SIGKILL');
      if (o.stdinOpen) child.stdin?.destroy();
      release?.();
    });
    child.once('close', () => {
      if (child.pid !== undefined) finish();
    });
  });
  const started = new Promise<number | undefined>((resolve) => {
    if (child.pid !== undefined) resolve(child.pid);
    else {
      child.once('spawn', () => resolve(child.pid));
      void done.then(() => resolve(child.pid));
    }
  });
  return {
    get pid() {
      return child.pid;
    },
    started,
    stop,
    done,
  };
}

/** startProcess, waited for. */
export function runProcess(o: ProcessOptions): Promise<ProcessResult> {
  return startProcess(o).done;
}
