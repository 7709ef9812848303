/**
 * Obtains the official Temporal CLI (dev server + Web UI) without manual steps, in this order:
 * STACKWIRE_TEMPORAL_CLI (explicit path); `temporal` on PATH; a cached build in the per-user cache
 * (shared by every clone and by CI); a build of the pinned Go module with the machine's Go; the
 * official release download. (TEMPORAL_ADDRESS — an existing cluster — is checked by the caller.)
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';

/** The one place the Temporal CLI version is pinned. v1.5.1 is the newest whose go.mod has no `replace`. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export interface TemporalCli {
  path: string;
  source: 'STACKWIRE_TEMPORAL_CLI' | 'PATH' | 'cache' | 'go build' | 'download';
}

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

export function onPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function works(bin: string): boolean {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 && /temporal version/i.test(r.stdout);
}

export function cachedCliPath(config: Config): string {
  return path.join(config.cacheDir, 'temporal-cli', TEMPORAL_CLI_VERSION, 'temporal');
}

/** Runs a command, showing one updating status line with elapsed time and the latest output. */
export function runWithProgress(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  label: string,
  log: (m: string) => void,
): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let last = '';
    let tail = '';
    let modules = 0;
    let lastAt = Date.now();
    const tty = process.stderr.isTTY;
    const onData = (b: Buffer) => {
      const text = b.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        last = line.trim();
        lastAt = Date.now();
        if (last.startsWith('go: downloading')) modules++;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // go prints nothing while it compiles: after a quiet spell, say so instead of repeating the last download.
    const doing = () => (Date.now() - lastAt > 5000 ? 'compiling (go prints nothing until it is done)' : last.slice(0, 60));
    const status = () => `${label}: ${Math.round((Date.now() - started) / 1000)}s, ${modules} modules fetched${last ? ` — ${doing()}` : ''}`;
    const timer = setInterval(
      () => {
        if (tty) process.stderr.write(`\r\x1b[K${status()}`);
        else log(status());
      },
      tty ? 500 : 15_000,
    );
    child.on('error', (err) => {
      clearInterval(timer);
      resolve({ code: null, tail: `${tail}\n${err.message}` });
    });
    child.on('close', (code) => {
      clearInterval(timer);
      if (tty) process.stderr.write('\r\x1b[K');
      resolve({ code, tail });
    });
  });
}

async function buildWithGo(go: string, target: string, log: (m: string) => void, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  // Build into a private folder, then rename: two clones building at once never see half a binary.
  const tmp = fs.mkdtempSync(path.join(dir, '.build-'));
  log(`temporal: building ${TEMPORAL_CLI_MODULE}@v${TEMPORAL_CLI_VERSION} with ${go} (about 3 minutes on 2 cores, once per machine; cached in ${dir})`);
  const { code, tail } = await runWithProgress(
    go,
    ['install', '-trimpath', `${TEMPORAL_CLI_MODULE}@v${TEMPORAL_CLI_VERSION}`],
    { ...env, GOBIN: tmp, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    'temporal: go install',
    log,
  );
  if (code !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new TemporalCliError(`building the Temporal CLI with Go failed (exit ${code}):\n${tail.trim().split('\n').slice(-15).join('\n')}`);
  }
  fs.renameSync(path.join(tmp, 'temporal'), target);
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function download(target: string, log: (m: string) => void): Promise<void> {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const platform = process.platform === 'darwin' ? 'darwin' : process.platform === 'win32' ? 'windows' : 'linux';
  const url = `https://temporal.download/cli/archive/v${TEMPORAL_CLI_VERSION}?platform=${platform}&arch=${arch}`;
  log(`temporal: downloading the official release from ${url}`);
  const res = await fetch(url);
  if (!res.ok) throw new TemporalCliError(`download of the Temporal CLI failed: HTTP ${res.status} from ${url}`);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(dir, '.download-'));
  const archive = path.join(tmp, 'temporal.tar.gz');
  fs.writeFileSync(archive, Buffer.from(await res.arrayBuffer()));
  const r = spawnSync('tar', ['-xzf', archive, '-C', tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new TemporalCliError(`could not unpack ${archive}: ${r.stderr}`);
  fs.renameSync(path.join(tmp, 'temporal'), target);
  fs.rmSync(tmp, { recursive: true, force: true });
}

/** The machine's Go: on PATH, else where the official installer puts it. */
export function findGo(env: NodeJS.ProcessEnv): string | undefined {
  return onPath('go', env.PATH) ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

export async function obtainTemporalCli(config: Config, env: NodeJS.ProcessEnv, log: (m: string) => void): Promise<TemporalCli> {
  if (config.temporal.cliPath) {
    if (!works(config.temporal.cliPath))
      throw new TemporalCliError(
        `STACKWIRE_TEMPORAL_CLI=${config.temporal.cliPath} does not run as 'temporal --version'. Point it at a Temporal CLI binary or unset it.`,
      );
    return { path: config.temporal.cliPath, source: 'STACKWIRE_TEMPORAL_CLI' };
  }
  const fromPath = onPath('temporal', env.PATH);
  if (fromPath && works(fromPath)) return { path: fromPath, source: 'PATH' };
  const cached = cachedCliPath(config);
  if (fs.existsSync(cached) && works(cached)) return { path: cached, source: 'cache' };
  const go = findGo(env);
  const problems: string[] = [];
  if (go) {
    try {
      await buildWithGo(go, cached, log, env);
      if (works(cached)) return { path: cached, source: 'go build' };
      problems.push(`the Go build at ${cached} does not run`);
    } catch (err) {
      problems.push((err as Error).message);
    }
  } else problems.push('Go is not installed (no `go` on PATH)');
  try {
    await download(cached, log);
    if (works(cached)) return { path: cached, source: 'download' };
    problems.push(`the downloaded binary at ${cached} does not run`);
  } catch (err) {
    problems.push(`download: ${(err as Error).message}`);
  }
  throw new TemporalCliError(
    `could not obtain the Temporal CLI:\n  - ${problems.join('\n  - ')}\n` +
      `Install Go 1.23+ (https://go.dev/dl) so Stackwire can build it, put a 'temporal' binary on PATH, ` +
      `or set TEMPORAL_ADDRESS to an existing Temporal cluster.`,
  );
}
