/**
 * The worker's side of the spawner (lib/spawner-process.ts): a small process forked before the worker
 * grows, which starts processes for it and hands their pipes over, so each script's fork costs ~1.3 ms
 * instead of 3.4–4 ms in the worker (and no longer stalls the worker's other threads).
 *
 * `launch` gives a child-like object: `spawn` once it runs (pid and pipes set), `error` when it could
 * not start, `exit`, then `close` once its stdout, stderr and channel are closed — the order
 * ChildProcess keeps. Everything else is the worker's as before: its environment (with the lifeline
 * marker), the guardian, signals to the group (root may signal any group).
 *
 * Should the spawner end (killed, out of memory), the processes it started that are still running are
 * killed (their groups, SIGKILL) and end with that signal; the next launch starts a new spawner.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SpawnError, SpawnRequest, SpawnerMessage } from './spawner-process.js';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'spawner-process.js');

export type LaunchOptions = Omit<SpawnRequest, 'id'>;

/** A process started by the spawner; its pipes are set when `spawn` is emitted. */
export class Launched extends EventEmitter {
  pid: number | undefined;
  stdin: Socket | null = null;
  stdout: Socket | null = null;
  stderr: Socket | null = null;
  channel: Socket | null = null;
  /** Set when the spawner ended under it. */
  lostSpawner = false;
  exited = false;
  private opens = 0;
  private closed = false;

  /** @internal */ take(fd: number, s: Socket): void {
    s.on('error', () => undefined);
    if (fd === 0) this.stdin = s;
    else {
      if (fd === 1) this.stdout = s;
      else if (fd === 2) this.stderr = s;
      else this.channel = s;
      this.opens++;
      s.once('close', () => {
        this.opens--;
        this.maybeClose();
      });
    }
  }

  /** @internal */ exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', code, signal);
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.closed || !this.exited || this.opens > 0) return;
    this.closed = true;
    this.emit('close');
  }
}

function spawnError(e: SpawnError): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(e.message);
  if (e.code !== undefined) err.code = e.code;
  if (e.errno !== undefined) err.errno = e.errno;
  if (e.syscall !== undefined) err.syscall = e.syscall;
  if (e.path !== undefined) err.path = e.path;
  return err;
}

export class Spawner {
  private proc: ChildProcess | undefined;
  private readonly pending = new Map<number, Launched>();
  private seq = 0;
  private stopped = false;

  constructor(private readonly onWarning: (message: string) => void = (m) => process.emitWarning(m)) {
    this.proc = this.fork();
  }

  /** The spawner's pid (tests, logs). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private fork(): ChildProcess {
    const proc = fork(ENTRY, [], {
      execArgv: ['--max-old-space-size=64'],
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true, // not in the worker's group: a terminal's Ctrl-C is the worker's to handle
      serialization: 'json',
    });
    proc.on('message', (m: SpawnerMessage, handle?: Socket) => this.onMessage(m, handle));
    proc.on('error', (e) => this.onWarning(`the spawner process failed: ${e.message}`));
    proc.once('exit', (code, signal) => this.onExit(proc, code, signal));
    // The spawner does not keep the worker alive by itself (the channel's closing ends it); while a
    // process it started runs, its channel does, so that the process's exit is heard.
    proc.unref();
    this.refChannel(proc, false);
    return proc;
  }

  private refChannel(proc: ChildProcess | undefined, on: boolean): void {
    const channel = proc?.channel as { ref?: () => void; unref?: () => void } | undefined | null;
    if (on) channel?.ref?.();
    else channel?.unref?.();
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.refChannel(this.proc, false);
  }

  private onMessage(m: SpawnerMessage, handle?: Socket): void {
    const p = this.pending.get(m.id);
    if (!p) {
      handle?.destroy();
      return;
    }
    switch (m.t) {
      case 'fd':
        if (handle) p.take(m.fd, handle);
        return;
      case 'spawned':
        p.pid = m.pid;
        p.emit('spawn');
        return;
      case 'error':
        this.settled(m.id);
        p.emit('error', spawnError(m.error));
        return;
      case 'exit':
        this.settled(m.id);
        p.exit(m.code, m.signal);
        return;
    }
  }

  private onExit(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.proc === proc) this.proc = undefined;
    if (this.stopped && this.pending.size === 0) return;
    this.onWarning(`the spawner process ended (${signal ?? `exit code ${code}`}); its running processes are killed, a new one starts at the next launch`);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.lostSpawner = true;
      if (p.pid === undefined) {
        p.emit('error', spawnError({ message: 'the spawner process ended before the process started', code: 'ESPAWNER' }));
        continue;
      }
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      p.exit(null, 'SIGKILL');
    }
  }

  /** Starts a process through the spawner (a new spawner if the last one ended). */
  launch(o: LaunchOptions): Launched {
    if (this.stopped) throw new Error('the spawner was stopped');
    if (!this.proc || !this.proc.connected) this.proc = this.fork();
    const id = ++this.seq;
    const p = new Launched();
    this.pending.set(id, p);
    this.refChannel(this.proc, true);
    this.proc.send({ id, ...o } satisfies SpawnRequest);
    return p;
  }

  /** Closes the channel: the spawner ends (processes it started go on; their exits are no longer reported). */
  stop(): void {
    this.stopped = true;
    if (this.proc?.connected) this.proc.disconnect();
  }
}
