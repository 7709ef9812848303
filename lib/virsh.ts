/**
 * libvirt through `virsh`, one long-lived session (connection) per URI in a worker: commands go to its
 * stdin one at a time, each followed by markers on stdout and stderr that close its output. A
 * connection kept open is what libvirt's own bindings do; it also keeps the state of libvirt's test
 * driver (test:///default), which lives only as long as its connection. Every word of a command is
 * checked against a strict pattern first: virsh's own command parser never sees a value it could split.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export class VirshError extends Error {
  override name = 'VirshError';
}

const WORD = /^[A-Za-z0-9_.+:/=-]+$/;

class Session {
  private proc: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private dead: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly uri: string,
    env: Record<string, string>,
  ) {
    this.proc = spawn('virsh', ['-q', '-c', uri], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (b: Buffer) => {
      this.out += b.toString('utf8');
      this.wake?.();
    });
    this.proc.stderr.on('data', (b: Buffer) => {
      this.err += b.toString('utf8');
      this.wake?.();
    });
    this.proc.on('error', (e) => this.fail(new VirshError(`virsh could not start: ${e.message} (install libvirt-clients)`)));
    this.proc.on('exit', (code) => this.fail(new VirshError(`virsh -c ${uri} ended (exit ${code}): ${this.err.trim().split('\n').pop() ?? ''}`)));
    this.proc.stdin.on('error', () => undefined);
  }

  private fail(e: Error): void {
    this.dead ??= e;
    this.wake?.();
  }

  private ended(): Error | undefined {
    return this.dead;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Runs one command (its words); its stdout, or a VirshError with what virsh said. */
  run(words: string[], timeoutMs = 60_000): Promise<string> {
    const r = this.queue.then(() => this.exec(words, timeoutMs));
    this.queue = r.catch(() => undefined);
    return r;
  }

  private async exec(words: string[], timeoutMs: number): Promise<string> {
    for (const w of words) if (!WORD.test(w)) throw new VirshError(`refusing to pass ${JSON.stringify(w)} to virsh (letters, digits and _ . + : / = - only)`);
    if (this.dead) throw this.dead;
    const mark = `__stackwire_${process.pid}_${++this.seq}__`;
    const outStart = this.out.length;
    const errStart = this.err.length;
    this.proc.stdin.write(`${words.join(' ')}\necho --err ${mark}\necho ${mark}\n`);
    const deadline = Date.now() + timeoutMs;
    const outDone = () => this.out.indexOf(`echo ${mark}\n${mark}`, outStart);
    const errDone = () => this.err.indexOf(`error: ${mark}`, errStart);
    while (outDone() < 0 || errDone() < 0) {
      const dead = this.ended();
      if (dead) throw dead;
      if (Date.now() > deadline) {
        this.proc.kill('SIGKILL');
        throw new VirshError(`virsh -c ${this.uri}: ${words[0]} did not answer within ${timeoutMs / 1000}s`);
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
      this.wake = undefined;
    }
    const errText = this.err.slice(errStart, errDone()).trim();
    // stdout: "virsh # <command>\n<output>virsh # echo --err …": the output is between the echoed command and the next prompt.
    const seg = this.out.slice(outStart, outDone());
    const afterCmd = seg.indexOf('\n');
    const output = seg.slice(afterCmd + 1, seg.indexOf('virsh # echo --err')).replace(/virsh # $/, '');
    this.out = this.out.slice(outDone() + `echo ${mark}\n${mark}`.length);
    this.err = this.err.slice(errDone() + `error: ${mark}`.length);
    if (errText) throw new VirshError(errText.replace(/^error: /gm, '').trim());
    return output.trim();
  }

  close(): void {
    this.proc.stdin.end('quit\n');
  }
}

/** The sessions of a worker, one per URI, opened on first use and again after one ends. */
export class Virsh {
  private sessions = new Map<string, Session>();
  constructor(private readonly env: Record<string, string>) {}

  /** `timeoutMs`: how long the command may take (default 60 s); past it the session is killed. */
  run(uri: string, words: string[], timeoutMs?: number): Promise<string> {
    let s = this.sessions.get(uri);
    if (!s || !s.alive) {
      s = new Session(uri, this.env);
      this.sessions.set(uri, s);
    }
    return s.run(words, timeoutMs);
  }

  close(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}
