/**
 * The worker's side of the spawner (lib/spawner-process.ts): a small process forked before the worker
 * grows, which starts processes for it and relays their pipes over the IPC channel, so each script's
 * fork costs ~1.3 ms instead of 3.4–4 ms in the worker (and no longer stalls the worker's other threads).
 *
 * `launch` gives a child-like object: `pid` and `spawn` as soon as the spawner says it runs, `error`
 * when it could not start, `exit`, then `close` once its stdout, stderr and channel have ended — the
 * order ChildProcess keeps. Its pipes are streams of this process, fed and drained by messages; the
 * output is acknowledged as it is taken (the spawner stops reading a script that is 1 MiB ahead).
 * Everything else is the worker's as before: its environment (with the lifeline marker), the guardian,
 * signals to the group (root may signal any group).
 *
 * Should the spawner end (killed, out of memory), the processes it started that are still running are
 * killed (their groups, SIGKILL) and end with that signal, once everything it sent has been read; the
 * next launch starts a new spawner, with requests of its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { Duplex, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LIFELINE_VAR, killMarked } from './lifeline.js';
import { ACK_STEP, type SpawnError, type SpawnRequest, type SpawnerMessage, type WorkerMessage } from './spawner-process.js';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'spawner-process.js');

export type LaunchOptions = Omit<SpawnRequest, 'id'>;

type Send = (m: WorkerMessage) => void;

/** A process started by the spawner; its pipes are streams here, relayed by the spawner. */
export class Launched extends EventEmitter {
  pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly channel: Duplex | null;
  /** Set when the spawner ended under it. */
  lostSpawner = false;
  exited = false;
  private opens: number;
  private closed = false;
  private unacked = 0;

  constructor(
    private readonly id: number,
    wants: { stdin: boolean; channel: boolean },
    /** Its lifeline marker (lib/lifeline.ts), which everything it starts carries. */
    readonly marker: string | undefined,
    private readonly send: Send,
  ) {
    super();
    const input = (fd: 0 | 3) => ({
      write: (chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void) => {
        send({ t: 'write', id, fd, data: chunk });
        cb();
      },
      final: (cb: (e?: Error | null) => void) => {
        send({ t: 'end', id, fd });
        cb();
      },
    });
    this.stdin = wants.stdin ? new Writable(input(0)) : null;
    this.stdout = new Readable({ read: () => undefined });
    this.stderr = new Readable({ read: () => undefined });
    this.channel = wants.channel ? new Duplex({ ...input(3), read: () => undefined, allowHalfOpen: true }) : null;
    const outputs = [this.stdout, this.stderr, ...(this.channel ? [this.channel] : [])];
    this.opens = outputs.length;
    for (const s of outputs) {
      s.on('error', () => undefined);
      s.once('end', () => {
        this.opens--;
        this.maybeClose();
      });
    }
  }

  private output(fd: 1 | 2 | 3): Readable | null {
    return fd === 1 ? this.stdout : fd === 2 ? this.stderr : this.channel;
  }

  /** @internal It runs: its pipes flow from now on (a stream nobody reads is drained, not held). */
  started(pid: number): void {
    this.pid = pid;
    this.emit('spawn');
    this.stdout.resume();
    this.stderr.resume();
  }

  /** @internal Output of one of its pipes, acknowledged once taken. */
  data(fd: 1 | 2 | 3, bytes: Uint8Array): void {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.output(fd)?.push(b);
    this.unacked += b.length;
    if (this.unacked >= ACK_STEP) {
      this.send({ t: 'ack', id: this.id, bytes: this.unacked });
      this.unacked = 0;
    }
  }

  /** @internal That pipe closed (or, the spawner gone, every pipe). */
  eof(fd: 1 | 2 | 3): void {
    const s = this.output(fd);
    if (s && !s.readableEnded) s.push(null);
  }

  /** @internal The spawner is gone: nothing more comes through any pipe (read or not: they end). */
  endPipes(): void {
    for (const fd of [1, 2, 3] as const) {
      this.eof(fd);
      this.output(fd)?.resume();
    }
    this.stdin?.destroy();
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
  /** When it last said anything (a pong included). */
  heard: number;
  watchdog: NodeJS.Timeout;
}

/** How often a spawner that holds running scripts is pinged. */
const PING_EVERY_MS = 5_000;

export interface SpawnerOptions {
  onWarning?: (message: string) => void;
  /**
   * Testing only (STACKWIRE_TEST_SPAWNER_HOLD_PID_MS): the spawner waits this long after starting a
   * script before it says so (`pid`), which opens the window where it may die before the worker knows
   * the pid.
   */
  hold?: { ms: number };
  /**
   * A spawner that holds running scripts and has said nothing, not even a pong, for this long is
   * killed (frozen, stopped, stuck): its scripts are killed with it and their runs end (lostSpawner),
   * instead of waiting for ever (STACKWIRE_SPAWNER_SILENCE_SECONDS; default 60 s).
   */
  silenceMs?: number;
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
    const proc = fork(ENTRY, this.options.hold ? [`--hold=pid:${this.options.hold.ms}`] : [], {
      execArgv: ['--max-old-space-size=64'],
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true, // not in the worker's group: a terminal's Ctrl-C is the worker's to handle
      serialization: 'advanced', // output goes as bytes
    });
    const cur: Current = { proc, pending: new Map(), heard: Date.now(), watchdog: this.watch(() => cur) };
    proc.on('message', (m: SpawnerMessage) => {
      cur.heard = Date.now();
      this.onMessage(cur, m);
    });
    proc.on('error', (e) => this.onWarning(`the spawner process failed: ${e.message}`));
    let exitedWith: string | undefined;
    proc.once('exit', (code, signal) => {
      exitedWith = signal ?? `exit code ${code}`;
      clearInterval(cur.watchdog);
    });
    // 'disconnect' comes once every message it sent has been read: only then is what it left running known.
    proc.once('disconnect', () => this.onLost(cur, () => exitedWith));
    // The spawner does not keep the worker alive by itself (the channel's closing ends it); while a
    // process it started runs, its channel does, so that the process's exit is heard.
    proc.unref();
    this.refChannel(proc, false);
    return cur;
  }

  /**
   * Pings the spawner while it holds scripts, and kills it once it has been silent for `silenceMs`.
   * Silence is counted in this process's own time: when the worker itself was stalled (a tick came
   * late) the count starts again, and the verdict waits for the messages already in the channel
   * (setImmediate comes after the event loop's read of them).
   */
  private watch(current: () => Current): NodeJS.Timeout {
    const silenceMs = this.options.silenceMs ?? 60_000;
    const every = Math.min(PING_EVERY_MS, Math.max(100, silenceMs / 4));
    let tick = Date.now();
    const timer = setInterval(() => {
      const cur = current();
      const now = Date.now();
      const late = now - tick > 2 * every;
      tick = now;
      if (cur.pending.size === 0 || late) {
        cur.heard = now;
        return;
      }
      if (cur.proc.connected) cur.proc.send({ t: 'ping' } satisfies WorkerMessage);
      if (now - cur.heard < silenceMs) return;
      setImmediate(() => {
        const silent = Date.now() - cur.heard;
        if (silent < silenceMs || cur.pending.size === 0 || cur.proc.exitCode !== null || cur.proc.signalCode !== null) return;
        this.onWarning(
          `the spawner process (pid ${cur.proc.pid}) has not answered for ${Math.round(silent / 1000)} s while it holds ${cur.pending.size} process(es) it started (frozen or stopped): it is killed, and they with it`,
        );
        cur.proc.kill('SIGKILL');
      });
    }, every);
    timer.unref();
    return timer;
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

  private onMessage(cur: Current, m: SpawnerMessage): void {
    if (m.t === 'pong') return;
    const p = cur.pending.get(m.id);
    if (!p) return;
    switch (m.t) {
      case 'pid':
        p.started(m.pid);
        return;
      case 'data':
        p.data(m.fd, m.data);
        return;
      case 'eof':
        p.eof(m.fd);
        return;
      case 'error':
        this.settled(cur, m.id);
        p.emit('error', spawnError(m.error));
        return;
      case 'exit':
        p.exit(m.code, m.signal);
        return;
    }
  }

  private onLost(cur: Current, how: () => string | undefined): void {
    if (this.current === cur) this.current = undefined;
    if (cur.pending.size === 0) return;
    const lost = [...cur.pending.values()];
    cur.pending.clear();
    const running = lost.filter((p) => !p.exited);
    if (running.length)
      this.onWarning(
        `the spawner process ended (${how() ?? 'its channel closed'}); ${running.length} process(es) it started are killed, a new spawner starts at the next launch`,
      );
    // Everything carrying their markers goes too (one walk of /proc): what left its group, and — when the
    // spawner died between starting a process and telling its pid — the process itself, found by its marker alone.
    const markers = running.flatMap((p) => (p.marker ? [p.marker] : []));
    const found = markers.length ? killMarked(markers) : new Map<string, { killed: number[]; leaders: number[] }>();
    const unknown: string[] = [];
    for (const p of lost) {
      if (p.exited) {
        // It ended; what it wrote after the last byte that came is lost with the spawner.
        p.endPipes();
        continue;
      }
      p.lostSpawner = true;
      const f = (p.marker && found.get(p.marker)) || { killed: [], leaders: [] };
      if (p.pid === undefined && f.leaders.length) p.pid = f.leaders[0];
      if (p.pid === undefined) {
        if (p.marker) unknown.push(p.marker);
        const what = f.killed.length ? `; the ${f.killed.length} process(es) of it still running were killed` : '';
        p.emit('error', spawnError({ message: `the spawner process ended before it said the process had started${what}`, code: 'ESPAWNER' }));
        continue;
      }
      killGroup(p.pid);
      p.endPipes();
      p.exit(null, 'SIGKILL');
    }
    // A process the spawner had forked but not yet started carries its marker only once it runs.
    if (unknown.length) setTimeout(() => killMarked(unknown), 500).unref();
  }

  /** Starts a process through the spawner (a new spawner if the last one ended). */
  launch(o: LaunchOptions): Launched {
    if (this.stopped) throw new Error('the spawner was stopped');
    if (!this.current || !this.current.proc.connected) this.current = this.fork();
    const cur = this.current;
    const id = ++this.seq;
    const send: Send = (m) => {
      if (cur.proc.connected) cur.proc.send(m);
    };
    const p = new Launched(id, { stdin: o.stdin, channel: o.channel }, o.env[LIFELINE_VAR], send);
    cur.pending.set(id, p);
    // Kept until its pipes have ended too (after its exit): a spawner lost before then still ends them.
    p.once('close', () => this.settled(cur, id));
    this.refChannel(cur.proc, true);
    send({ t: 'start', id, ...o });
    return p;
  }

  /**
   * Closes the channel and kills the spawner (it holds nothing of its own: one that would not end by
   * itself, stopped or stuck, must not outlive the worker); whatever it started that still runs is killed.
   */
  stop(): void {
    this.stopped = true;
    const proc = this.current?.proc;
    if (!proc) return;
    if (proc.connected) proc.disconnect();
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}
