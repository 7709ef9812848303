/**
 * Runs Stackwire's own processes (workers, API, the Temporal dev server) as children: prefixes
 * their output, waits for their ready line, stops them with SIGTERM then SIGKILL.
 * Deliberately not lib/spawn.ts (the helper for scripts, puppet, checks, git): these are long-running
 * services of ours that inherit our environment, report readiness by a log line, write log files and
 * are stopped one by one (a worker drains on SIGTERM), not killed by process group on a timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

export interface Service {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

export interface ServiceOptions {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** A line matching this means ready. */
  ready: RegExp;
  readyTimeoutMs?: number;
  /** Where output goes: a writable (e.g. process.stdout) or a file path. */
  output: NodeJS.WritableStream | string;
  /** Show only lines that match (others still go to files). */
  filter?: (line: string) => string | undefined;
  /** With a file `output`: also show the lines here (through `filter`), as with a stream output. */
  echo?: NodeJS.WritableStream;
}

export async function startService(o: ServiceOptions): Promise<Service & { readyLine: string }> {
  const child = spawn(o.command, o.args, { env: o.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const sink = typeof o.output === 'string' ? fs.createWriteStream(o.output, { flags: 'a' }) : o.output;
  const recent: string[] = [];
  let readyResolve!: (line: string) => void;
  let readyReject!: (err: Error) => void;
  const ready = new Promise<string>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  let isReady = false;
  const onLine = (line: string) => {
    recent.push(line);
    if (recent.length > 30) recent.shift();
    if (!isReady && o.ready.test(line)) {
      isReady = true;
      readyResolve(line);
    }
    const screen = typeof o.output === 'string' ? o.echo : o.output;
    if (typeof o.output === 'string') sink.write(`${line}\n`);
    const shown = screen ? (o.filter ? o.filter(line) : line) : undefined;
    if (screen && shown !== undefined) screen.write(`[${o.name}] ${shown}\n`);
  };
  readline.createInterface({ input: child.stdout }).on('line', onLine);
  readline.createInterface({ input: child.stderr }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (err) => {
      readyReject(new Error(`${o.name}: could not start ${o.command}: ${err.message}`));
      resolve(null);
    });
    child.on('exit', (code, signal) => {
      if (!isReady) readyReject(new Error(`${o.name} exited (${signal ?? `code ${code}`}) before it was ready. Its last output:\n${recent.join('\n')}`));
      resolve(code);
    });
  });
  const timeout = o.readyTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${o.name} was not ready after ${timeout / 1000}s. Its last output:\n${recent.join('\n')}`)), timeout);
  });
  const stop = async (graceMs = 35_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(killer);
  };
  try {
    const readyLine = await Promise.race([ready, timedOut]);
    return { name: o.name, child, exited, stop, readyLine };
  } catch (err) {
    await stop(2000);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** True if nothing listens on host:port. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
