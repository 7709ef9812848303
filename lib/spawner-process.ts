/**
 * The spawner: a small process a worker starts before it grows (lib/spawner.ts), which starts the
 * worker's scripts for it. A fork costs in proportion to the memory of the process that forks: from the
 * worker (the Temporal SDK's core, its workflow threads) a spawn took 3.4–4 ms and slowed its other
 * threads; from this process it takes about 1.3 ms.
 *
 * The spawner relays each script's pipes over the IPC channel (advanced serialization: bytes go as
 * bytes); no socket is handed over. Handing sockets over made every start wait for the worker's
 * acknowledgement of each one, and under load the starts and exits of other scripts queued behind them.
 *
 * Protocol on the IPC channel, per request id:
 *   worker → spawner  {t: 'start', id, command, args, env, cwd?, uid?, gid?, nice?, stdin, channel}
 *                     {t: 'write', id, fd, data}    bytes for the script's stdin (fd 0) or channel (fd 3)
 *                     {t: 'end', id, fd}            no more of them
 *                     {t: 'ack', id, bytes}         the worker has taken this many more bytes of output
 *                     {t: 'ping'}                   while it has scripts here: are you there?
 *   spawner → worker  {t: 'pid', id, pid}           first: it runs, and from then on the worker can stop it
 *                     {t: 'data', id, fd, data}     output of fd 1, 2 or 3, in order
 *                     {t: 'eof', id, fd}            that pipe closed
 *                     {t: 'error', id, error}       it could not be started (nothing else follows)
 *                     {t: 'exit', id, code, signal} the script ended (it is our child: we reap it)
 *                     {t: 'pong'}                   the answer to a ping (a spawner that stops answering is killed)
 * Flow control: past WINDOW bytes of a script's output not yet acknowledged, its pipes are not read
 * (the script blocks on a full pipe, as it would with the worker reading them), so a script that writes
 * fast cannot fill this process's memory.
 *
 * It imports nothing of Stackwire's (it stays small), ignores the terminal's signals (the worker stops
 * it), and ends when the worker's channel closes — the worker's death included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';

export interface SpawnRequest {
  id: number;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** A niceness, set at once (what the process starts inherits it). */
  nice?: number;
  stdin: boolean;
  channel: boolean;
}

export interface SpawnError {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export type WorkerMessage =
  | ({ t: 'start' } & SpawnRequest)
  | { t: 'write'; id: number; fd: 0 | 3; data: Uint8Array }
  | { t: 'end'; id: number; fd: 0 | 3 }
  | { t: 'ack'; id: number; bytes: number }
  | { t: 'ping' };

export type SpawnerMessage =
  | { id: number; t: 'pid'; pid: number }
  | { id: number; t: 'data'; fd: 1 | 2 | 3; data: Uint8Array }
  | { id: number; t: 'eof'; fd: 1 | 2 | 3 }
  | { id: number; t: 'error'; error: SpawnError }
  | { id: number; t: 'exit'; code: number | null; signal: NodeJS.Signals | null }
  | { t: 'pong' };

/** Output bytes a script may have on their way to the worker before its pipes are no longer read. */
export const WINDOW = 1024 * 1024;
/** The worker acknowledges output in steps of at least this many bytes. */
export const ACK_STEP = 64 * 1024;

function errorInfo(e: unknown): SpawnError {
  const x = e as NodeJS.ErrnoException;
  return {
    message: x.message ?? String(e),
    ...(x.code !== undefined ? { code: x.code } : {}),
    ...(x.errno !== undefined ? { errno: x.errno } : {}),
    ...(x.syscall !== undefined ? { syscall: x.syscall } : {}),
    ...(x.path !== undefined ? { path: x.path } : {}),
  };
}

function send(m: SpawnerMessage): void {
  if (process.connected) process.send!(m);
}

/** A running script of ours: its writable pipes and its flow control. */
interface Running {
  child: ChildProcess;
  inputs: Partial<Record<0 | 3, Writable>>;
  outputs: Readable[];
  unacked: number;
  paused: boolean;
}

const running = new Map<number, Running>();

function start(r: SpawnRequest): void {
  let child: ChildProcess;
  try {
    child = spawn(r.command, r.args, {
      env: r.env,
      ...(r.cwd !== undefined ? { cwd: r.cwd } : {}),
      ...(r.uid !== undefined ? { uid: r.uid } : {}),
      ...(r.gid !== undefined ? { gid: r.gid } : {}),
      detached: true, // a process group of its own: kill(-pid) reaches everything it started
      stdio: [r.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(r.channel ? (['pipe'] as const) : [])],
      shell: false,
    });
  } catch (e) {
    send({ id: r.id, t: 'error', error: errorInfo(e) });
    return;
  }
  const pipes = child.stdio as (Readable | Writable | null)[];
  if (child.pid === undefined) {
    // ENOENT, EACCES …: emitted, not thrown.
    for (const s of pipes) s?.destroy();
    child.once('error', (e) => send({ id: r.id, t: 'error', error: errorInfo(e) }));
    return;
  }
  const pid = child.pid;
  // Testing only: a start carrying a lifeline marker (a script's, not the worker's own tools) is said late;
  // everything of it waits until then, in order.
  const held = hold && r.env.STACKWIRE_LIFELINE !== undefined ? hold : undefined;
  let queue: SpawnerMessage[] | undefined = held ? [] : undefined;
  const say = (m: SpawnerMessage) => (queue ? queue.push(m) : send(m));
  const run: Running = { child, inputs: {}, outputs: [], unacked: 0, paused: false };
  running.set(r.id, run);
  for (const fd of [0, 3] as const) {
    const w = pipes[fd] as Writable | null | undefined;
    if (!w) continue;
    w.on('error', () => undefined); // a program that exits without reading its input
    run.inputs[fd] = w;
  }
  for (const fd of [1, 2, 3] as const) {
    const s = pipes[fd] as Readable | null | undefined;
    if (!s) continue;
    run.outputs.push(s);
    s.on('data', (b: Buffer) => {
      say({ id: r.id, t: 'data', fd, data: b });
      run.unacked += b.length;
      if (!run.paused && run.unacked > WINDOW) {
        run.paused = true;
        for (const o of run.outputs) o.pause();
      }
    });
    s.on('error', () => undefined);
    // Said once, when its reading side ends (fd 3 is a socket the worker may still write to) or it closes.
    let ended = false;
    const eof = () => {
      if (ended) return;
      ended = true;
      say({ id: r.id, t: 'eof', fd });
    };
    s.once('end', eof);
    s.once('close', eof);
  }
  child.on('error', () => undefined); // a kill of ours that failed; the exit still comes
  child.once('exit', (code, signal) => say({ id: r.id, t: 'exit', code, signal }));
  // Forgotten once every pipe closed and it exited (the worker's acks for it no longer matter).
  child.once('close', () => running.delete(r.id));
  if (r.nice !== undefined) {
    try {
      os.setPriority(pid, r.nice);
    } catch {
      // Gone already, or not allowed: it runs at the default priority.
    }
  }
  const announce = () => {
    send({ id: r.id, t: 'pid', pid });
    const q = queue ?? [];
    queue = undefined;
    for (const m of q) send(m);
  };
  if (held) setTimeout(announce, held.ms);
  else announce();
}

function onMessage(m: WorkerMessage): void {
  if (m.t === 'start') return start(m);
  if (m.t === 'ping') return send({ t: 'pong' });
  const run = running.get(m.id);
  if (!run) return;
  switch (m.t) {
    case 'write':
      run.inputs[m.fd]?.write(m.data);
      return;
    case 'end':
      run.inputs[m.fd]?.end();
      return;
    case 'ack':
      run.unacked -= m.bytes;
      if (run.paused && run.unacked <= WINDOW / 2) {
        run.paused = false;
        for (const o of run.outputs) o.resume();
      }
      return;
  }
}

/**
 * Testing only (lib/spawner.ts; STACKWIRE_TEST_SPAWNER_HOLD_PID_MS): how long to wait before saying a
 * process started (`pid`) — and with it everything else of that process.
 */
const holdArg = /^--hold=pid:(\d+)$/.exec(process.argv[2] ?? '');
const hold = holdArg ? { ms: Number(holdArg[1]) } : undefined;

if (process.send) {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => undefined);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: WorkerMessage) => onMessage(m));
}
