/**
 * The spawner: a small process a worker starts before it grows (lib/spawner.ts), which starts the
 * worker's scripts for it. A fork costs in proportion to the memory of the process that forks: from the
 * worker (the Temporal SDK's core, its workflow threads) a spawn took 3.4–4 ms and slowed its other
 * threads; from this process it takes about 1.3 ms.
 *
 * Protocol on the IPC channel (JSON), per request id:
 *   worker → spawner  {id, command, args, env, cwd?, uid?, gid?, nice?, stdin, channel}
 *   spawner → worker  {id, t: 'pid', pid}           first: from then on the worker can stop it
 *                     {id, t: 'fd', fd} with the socket of that stdio pipe (fd 0 when stdin, 1, 2,
 *                     3 when channel) attached: the worker reads and writes the script's pipes itself
 *                     {id, t: 'spawned', pid}        after every fd
 *                     {id, t: 'error', error}        it could not be started (nothing else follows)
 *                     {id, t: 'exit', code, signal}  the script ended (it is our child: we reap it)
 * The spawner never reads a pipe: reading stops before a socket is handed over, so no byte stays here.
 * It imports nothing of Stackwire's (it stays small), ignores the terminal's signals (the worker stops
 * it), and ends when the worker's channel closes — the worker's death included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import os from 'node:os';

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

export type SpawnerMessage =
  | { id: number; t: 'pid'; pid: number }
  | { id: number; t: 'fd'; fd: number }
  | { id: number; t: 'spawned'; pid: number }
  | { id: number; t: 'error'; error: SpawnError }
  | { id: number; t: 'exit'; code: number | null; signal: NodeJS.Signals | null };

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

function send(m: SpawnerMessage, handle?: Socket): void {
  if (process.connected) process.send!(m, handle);
}

/** Stops a pipe's socket from reading (an internal of Node's net.Socket: its libuv handle), so what the script writes waits in the pipe for the worker. */
function stopReading(s: Socket): void {
  (s as unknown as { _handle?: { readStop?: () => number } })._handle?.readStop?.();
}

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
  const pipes = child.stdio.slice(0, r.channel ? 4 : 3) as (Socket | null)[];
  // Node destroys a child's stdin when it exits: one still waiting to be handed over (the channel sends
  // one socket at a time) would go as nothing. The spawner owns it until it is sent.
  (child as { stdin: unknown }).stdin = null;
  if (child.pid === undefined) {
    // ENOENT, EACCES …: emitted, not thrown.
    for (const s of pipes) s?.destroy();
    child.once('error', (e) => send({ id: r.id, t: 'error', error: errorInfo(e) }));
    return;
  }
  const pid = child.pid;
  // Its exit is heard from now on, and said only after everything before it.
  let announced = false;
  let exit: SpawnerMessage | undefined;
  child.once('exit', (code, signal) => {
    exit = { id: r.id, t: 'exit', code, signal };
    if (announced) send(exit);
  });
  child.on('error', () => undefined); // a kill of ours that failed; the exit still comes
  if (r.nice !== undefined) {
    try {
      os.setPriority(pid, r.nice);
    } catch {
      // Gone already, or not allowed: it runs at the default priority.
    }
  }
  const handOne = (fd: number) => {
    const s = pipes[fd];
    if (!s) return;
    stopReading(s);
    send({ id: r.id, t: 'fd', fd }, s); // handed over, then closed here
  };
  const handRest = (from: number) => {
    for (let fd = from; fd < pipes.length; fd++) handOne(fd);
    send({ id: r.id, t: 'spawned', pid });
    announced = true;
    if (exit) send(exit);
  };
  // Testing only: a start carrying a lifeline marker (a script's, not the worker's own tools) is held.
  const held = hold && r.env.STACKWIRE_LIFELINE !== undefined ? hold : undefined;
  if (held) for (const s of pipes) if (s) stopReading(s);
  const announce = () => {
    send({ id: r.id, t: 'pid', pid });
    if (held?.at === 'pipes') {
      // Part of the pipes handed over, the rest held: what a queue of acknowledgements does under load.
      handOne(0);
      handOne(1);
      setTimeout(() => handRest(2), held.ms);
    } else handRest(0);
  };
  if (held?.at === 'pid') setTimeout(announce, held.ms);
  else announce();
}

/**
 * Testing only (lib/spawner.ts; STACKWIRE_TEST_SPAWNER_HOLD_PID_MS / _PIPES_MS): how long to wait before
 * saying a process started (`pid`), or before handing its pipes over (`pipes`, the pid said at once).
 */
const holdArg = /^--hold=(pid|pipes):(\d+)$/.exec(process.argv[2] ?? '');
const hold = holdArg ? { at: holdArg[1] as 'pid' | 'pipes', ms: Number(holdArg[2]) } : undefined;

if (process.send) {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => undefined);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: SpawnRequest) => start(m));
}
