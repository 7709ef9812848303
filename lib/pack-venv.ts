/**
 * A StackStorm pack's Python environment: a virtualenv built from its `requirements.txt` by the
 * region's worker on first use, content-addressed by (requirements, Python version, package source),
 * so every pack version with the same requirements shares one, and a changed file builds a new one.
 *
 *   <runDir>/venvs/<key>/          complete (it holds .stackwire-ready): used read-only by scripts
 *   <runDir>/venvs/<key>.build-*   under construction; renamed into place when pip has succeeded
 *
 * pip gets its packages the way the site says: a wheelhouse folder (STACKWIRE_PIP_FIND_LINKS, with
 * --no-index) or an index (PIP_INDEX_URL); with neither, pip's default index. Builds of one key are
 * serialised within a worker; two workers of a host may race and both build, the second rename loses
 * and its copy is dropped (both are identical).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runProcess } from './spawn.js';

export interface PipSource {
  /** A folder of wheels (or a URL of a links page) pip installs from, with --no-index. */
  findLinks?: string | undefined;
  /** A package index URL. */
  indexUrl?: string | undefined;
}

export class PackEnvError extends Error {
  override name = 'PackEnvError';
}

export interface PackEnvOptions {
  venvRoot: string;
  pack: string;
  requirements: Buffer;
  pip: PipSource;
  /** PATH, LANG … for python and pip (never the worker's secrets). */
  env: Record<string, string>;
  python?: string;
  /** The user scripts run as: the environment's base Python must be one it can run (not one under /root). */
  runUser?: { uid: number; gid: number } | undefined;
  /** Called with each line pip prints, and with Stackwire's own progress lines. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const building = new Map<string, Promise<string>>();
const READY = '.stackwire-ready';
let pythonVersion: string | undefined;

async function versionOf(python: string, env: Record<string, string>): Promise<string> {
  if (pythonVersion) return pythonVersion;
  const r = await runProcess({ argv: [python, '-c', 'import sys; print(sys.version)'], env, timeoutMs: 30_000 });
  if (r.code !== 0) throw new PackEnvError(`${python} does not run (${r.spawnError?.message ?? r.stderr.trim()}); install Python 3 on the worker's machine`);
  pythonVersion = r.stdout.trim();
  return pythonVersion;
}

/** Whether a user may pass through every folder above a file and run it (the mode bits that apply to it). */
function runnableBy(file: string, user: { uid: number; gid: number }): boolean {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return false;
  }
  const allows = (p: string, bit: number): boolean => {
    const st = fs.statSync(p);
    const mode = st.uid === user.uid ? (st.mode >> 6) & 7 : st.gid === user.gid ? (st.mode >> 3) & 7 : st.mode & 7;
    return (mode & bit) !== 0;
  };
  if (!allows(real, 1)) return false;
  for (let d = path.dirname(real); ; d = path.dirname(d)) {
    if (!allows(d, 1)) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * The python3 the environment is based on: the first on the scripts' PATH that the run user can run
 * (a venv's python is a link to it, so one under /root would not start for the run user).
 */
export function basePython(pathVar: string, user: { uid: number; gid: number } | undefined): string {
  for (const dir of pathVar.split(':').filter((d) => path.isAbsolute(d))) {
    const candidate = path.join(dir, 'python3');
    if (!fs.existsSync(candidate)) continue;
    if (!user || runnableBy(candidate, user)) return candidate;
  }
  throw new PackEnvError(
    `no python3 on the scripts' PATH (${pathVar}) that ${user ? `the run user (uid ${user.uid})` : 'the worker'} can run; install Python 3 (apt-get install python3 python3-venv)`,
  );
}

/** The environment's key: what decides its content. */
export function envKey(requirements: Buffer, version: string, pip: PipSource): string {
  return crypto
    .createHash('sha256')
    .update(requirements)
    .update('\0')
    .update(version)
    .update('\0')
    .update(pip.findLinks ?? '')
    .update('\0')
    .update(pip.indexUrl ?? '')
    .digest('hex')
    .slice(0, 24);
}

/** The python of the pack's environment (built now if it does not exist yet). */
export async function ensurePackEnv(o: PackEnvOptions): Promise<{ python: string; built: boolean; key: string }> {
  const python = o.python ?? basePython(o.env.PATH ?? '', o.runUser);
  const key = envKey(o.requirements, await versionOf(python, o.env), o.pip);
  const dir = path.join(o.venvRoot, key);
  const bin = path.join(dir, 'bin', 'python');
  if (fs.existsSync(path.join(dir, READY))) return { python: bin, built: false, key };
  let pending = building.get(key);
  const mine = !pending;
  if (!pending) {
    pending = build(o, python, dir, key).finally(() => building.delete(key));
    building.set(key, pending);
  } else o.onLine?.(`waiting for the Python environment of ${o.pack} (${key}) that another run is building`);
  await pending;
  return { python: bin, built: mine, key };
}

async function build(o: PackEnvOptions, python: string, dir: string, key: string): Promise<string> {
  fs.mkdirSync(o.venvRoot, { recursive: true, mode: 0o755 });
  const tmp = `${dir}.build-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const say = (line: string) => o.onLine?.(line);
  const home = `${tmp}-home`;
  const env = { ...o.env, HOME: home, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONDONTWRITEBYTECODE: '1' };
  const step = async (what: string, argv: string[]) => {
    say(`${what}: ${argv.join(' ')}`);
    const r = await runProcess({
      argv,
      env,
      timeoutMs: o.timeoutMs ?? 15 * 60_000,
      ...(o.signal ? { signal: o.signal } : {}),
      onStdout: (b) => b.toString('utf8').split('\n').filter(Boolean).forEach(say),
      onStderr: (b) => b.toString('utf8').split('\n').filter(Boolean).forEach(say),
    });
    if (r.code !== 0) {
      const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-6).join('\n');
      const why = r.spawnError ? r.spawnError.message : r.stoppedBy ? `stopped (${r.stoppedBy})` : `exit code ${r.code}`;
      throw new PackEnvError(`${what} failed (${why}):\n${tail}`);
    }
  };
  try {
    say(
      `building the Python environment of pack ${o.pack} from requirements.txt (sha256 ${crypto.createHash('sha256').update(o.requirements).digest('hex').slice(0, 12)}, key ${key})`,
    );
    await step('creating the virtualenv', [python, '-m', 'venv', tmp]);
    fs.writeFileSync(path.join(tmp, 'requirements.txt'), o.requirements, { mode: 0o644 });
    const source = o.pip.findLinks ? ['--no-index', '--find-links', o.pip.findLinks] : o.pip.indexUrl ? ['--index-url', o.pip.indexUrl] : [];
    try {
      await step('installing requirements.txt', [
        path.join(tmp, 'bin', 'python'),
        '-m',
        'pip',
        'install',
        '--no-cache-dir',
        ...source,
        '-r',
        path.join(tmp, 'requirements.txt'),
      ]);
    } catch (err) {
      const hint = o.pip.findLinks
        ? `pip looked only in ${o.pip.findLinks} (STACKWIRE_PIP_FIND_LINKS): put the wheels the requirements need there`
        : o.pip.indexUrl
          ? `pip looked in ${o.pip.indexUrl} (PIP_INDEX_URL): check that it serves these packages and that this machine reaches it`
          : "pip used its default index: if this machine cannot reach it, set PIP_INDEX_URL to your site's index or STACKWIRE_PIP_FIND_LINKS to a folder of wheels";
      throw new PackEnvError(`pack ${o.pack}: its requirements.txt could not be installed. ${(err as Error).message}\n${hint}.`);
    }
    fs.writeFileSync(path.join(tmp, READY), `${new Date().toISOString()}\n`, { mode: 0o644 });
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another worker of this host finished the same environment first: use theirs.
      if (!fs.existsSync(path.join(dir, READY))) throw err;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    say(`the Python environment of pack ${o.pack} is ready (${key})`);
    return dir;
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}
