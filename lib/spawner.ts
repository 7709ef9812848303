/**
 * The worker's side of the spawner (lib/spawner-process.ts): a small process forked before the worker
 * grows, which starts processes for it and hands their pipes over, so each script's fork costs ~1.3 ms
 * instead of 3.4–4 ms in the worker (and no longer stalls the worker's other threads).
 *
 * `launch` gives a child-like object: `pid` as soon as the spawner tells it, `spawn` once its pipes are
 * here, `error` when it could not start (or its pipes could not be taken: it is killed), `exit`, then
 * `close` once its stdout, stderr and channel are closed — the order ChildProcess keeps. Everything else
 * is the worker's as before: its environment (with the lifeline marker), the guardian, signals to the
 * group (root may signal any group).
 *
 * Should the spawner end (killed, out of memory), the processes it started that are still running are
 * killed (their groups, SIGKILL) and end with that signal, once everything it sent has been read; the
 * next launch starts a new spawner, with requests of its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIFELINE_VAR, killMarked } from './lifeline.js';
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
  /** Its pipes have all arrived (or it failed): it no longer holds up the spawner's channel. */
  handedOver = false;
  exited = false;
  private opens = 0;
  private closed = false;

  constructor(
    readonly wants: { stdin: boolean; channel: boolean },
    /** Its lifeline marker (lib/lifeline.ts), which everything it starts carries. */
    readonly marker: string | undefined,
  ) {
    super();
  }

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

  /** @internal Every pipe it needs arrived (a worker out of file descriptors cannot take one). */
  complete(): boolean {
    return Boolean(this.stdout && this.stderr && (!this.wants.stdin || this.stdin) && (!this.wants.channel || this.channel));
  }

  /** @internal */ dropPipes(): void {
    for (const s of [this.stdin, this.stdout, this.stderr, this.channel]) s?.destroy();
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

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** One spawner process and the requests it holds. */
interface Current {
  proc: ChildProcess;
  pending: Map<number, Launched>;
}

export interface SpawnerOptions {
  onWarning?: (message: string) => void;
  /**
   * Testing only (STACKWIRE_TEST_SPAWNER_HOLD_PID_MS / _PIPES_MS): the spawner waits this long after
   * starting a script before it says so (`pid`), or before it hands its pipes over (`pipes`), which opens
   * the windows where it may die before the worker knows the pid, or has the pipes.
   */
  hold?: { at: 'pid' | 'pipes'; ms: number };
}

export class Spawner {
  private current: Current | undefined;
  private seq = 0;
  private stopped = false;
  private readonly onWarning: (message: string) => void;

  constructor(private readonly options: SpawnerOptions = {}) {
    this.onWarning = options.onWarning ?? ((m) => process.emitWarning(m));
    this.current = this.fork();
  }

  /** The spawner's pid (tests, logs). */
  get pid(): number | undefined {
    return this.current?.proc.pid;
  }

  private fork(): Current {
    const proc = fork(ENTRY, this.options.hold ? [`--hold=${this.options.hold.at}:${this.options.hold.ms}`] : [], {
      execArgv: ['--max-old-space-size=64'],
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true, // not in the worker's group: a terminal's Ctrl-C is the worker's to handle
      serialization: 'json',
    });
    const cur: Current = { proc, pending: new Map() };
    proc.on('message', (m: SpawnerMessage, handle?: Socket) => this.onMessage(cur, m, handle));
    proc.on('error', (e) => this.onWarning(`the spawner process failed: ${e.message}`));
    let exitedWith: string | undefined;
    proc.once('exit', (code, signal) => {
      exitedWith = signal ?? `exit code ${code}`;
    });
    // 'disconnect' comes once every message it sent has been read: only then is what it left running known.
    proc.once('disconnect', () => this.onLost(cur, () => exitedWith));
    // The spawner does not keep the worker alive by itself (the channel's closing ends it); while a
    // process it started runs, its channel does, so that the process's exit is heard.
    proc.unref();
    this.refChannel(proc, false);
    return cur;
  }

  private refChannel(proc: ChildProcess, on: boolean): void {
    const channel = proc.channel as { ref?: () => void; unref?: () => void } | undefined | null;
    if (on) channel?.ref?.();
    else channel?.unref?.();
  }

  private settled(cur: Current, id: number): void {
    cur.pending.delete(id);
    if (cur.pending.size === 0) this.refChannel(cur.proc, false);
  }

  private onMessage(cur: Current, m: SpawnerMessage, handle?: Socket): void {
    const p = cur.pending.get(m.id);
    if (!p) {
      handle?.destroy();
      return;
    }
    switch (m.t) {
      case 'pid':
        p.pid = m.pid;
        return;
      case 'fd':
        if (handle) p.take(m.fd, handle);
        return;
      case 'spawned':
        p.handedOver = true;
        if (!p.complete()) {
          // Not handed over (EMFILE here): it cannot be watched, so it may not run. Its exit still comes.
          killGroup(m.pid);
          p.dropPipes();
          p.emit(
            'error',
            spawnError({ message: 'the worker could not take the pipes of the process it started (too many open files?); it was killed', code: 'EMFILE' }),
          );
          return;
        }
        p.emit('spawn');
        return;
      case 'error':
        this.settled(cur, m.id);
        p.emit('error', spawnError(m.error));
        return;
      case 'exit':
        this.settled(cur, m.id);
        p.exit(m.code, m.signal);
        return;
    }
  }

  private onLost(cur: Current, how: () => string | undefined): void {
    if (this.current === cur) this.current = undefined;
    if (cur.pending.size === 0) return;
    this.onWarning(
      `the spawner process ended (${how() ?? 'its channel closed'}); ${cur.pending.size} process(es) it started are killed, a new spawner starts at the next launch`,
    );
    // Everything carrying their markers goes too (one walk of /proc): what left its group, and — when the
    // spawner died between starting a process and telling its pid — the process itself, found by its marker alone.
    const lost = [...cur.pending.values()];
    cur.pending.clear();
    const markers = lost.flatMap((p) => (p.marker ? [p.marker] : []));
    const found = killMarked(markers);
    const unknown: string[] = [];
    for (const p of lost) {
      p.lostSpawner = true;
      const f = (p.marker && found.get(p.marker)) || { killed: [], leaders: [] };
      if (p.pid === undefined && f.leaders.length) p.pid = f.leaders[0];
      if (p.pid === undefined) {
        if (p.marker) unknown.push(p.marker);
        p.dropPipes();
        const what = f.killed.length ? `; the ${f.killed.length} process(es) of it still running were killed` : '';
        p.emit('error', spawnError({ message: `the spawner process ended before it said the process had started${what}`, code: 'ESPAWNER' }));
        continue;
      }
      killGroup(p.pid);
      // Pipes of a start not yet handed over completely are read by nobody: closed, so that it can end.
      if (!p.handedOver) p.dropPipes();
      p.exit(null, 'SIGKILL');
    }
    // A process the spawner had forked but not yet started carries its marker only once it runs.
    if (unknown.length) setTimeout(() => killMarked(unknown), 500).unref();
  }

  /**
   * Processes whose pipes are still on their way. Node hands one socket at a time over the channel and
   * waits for the worker to acknowledge it before the next message, so under load (a busy worker
   * acknowledges late) starts queue up, and with them the exits of the processes behind them.
   */
  get backlog(): number {
    let n = 0;
    for (const p of this.current?.pending.values() ?? []) if (!p.handedOver) n++;
    return n;
  }

  /** Starts a process through the spawner (a new spawner if the last one ended). */
  launch(o: LaunchOptions): Launched {
    if (this.stopped) throw new Error('the spawner was stopped');
    if (!this.current || !this.current.proc.connected) this.current = this.fork();
    const cur = this.current;
    const id = ++this.seq;
    const p = new Launched({ stdin: o.stdin, channel: o.channel }, o.env[LIFELINE_VAR]);
    cur.pending.set(id, p);
    this.refChannel(cur.proc, true);
    cur.proc.send({ id, ...o } satisfies SpawnRequest);
    return p;
  }

  /** Closes the channel: the spawner ends, and whatever it started that still runs is killed. */
  stop(): void {
    this.stopped = true;
    if (this.current?.proc.connected) this.current.proc.disconnect();
  }
}
