/**
 * Scripts kept apart from the worker: the user they run as (STACKWIRE_RUN_AS), the folder they may read
 * pack files from and get a working folder in (STACKWIRE_RUN_DIR), and the data folder they may not read.
 *
 *   <runDir>/            worker's user, 0755
 *     packs/<pack>/<h>/  materialised pack versions: worker's user, dirs 0755, files 0644/0755 (read, never write)
 *     runners/           the StackStorm python shim, 0644
 *     venvs/<key>/       StackStorm packs' Python environments (lib/pack-venv.ts): dirs 0755, read-only to scripts
 *     work/              worker's user, 0711 (no listing)
 *       <run>/           one per run, owned by the run user, 0700: the script's cwd; home/ and tmp/ inside; removed after the run
 *   <dataDir>/           0700 (Postgres data, logs, secret.key 0600): not readable by the run user
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type Config } from './config.js';
import { ST2_SHIM } from './paths.js';

export const DEFAULT_RUN_USER = 'stackwire-run';

export interface RunUser {
  name: string;
  uid: number;
  gid: number;
}

function parsePasswd(line: string): RunUser | undefined {
  const f = line.trim().split(':');
  if (f.length < 4 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) return undefined;
  return { name: f[0], uid: Number(f[2]), gid: Number(f[3]) };
}

/** A user of this machine by name (NSS through getent, else /etc/passwd). */
export function lookupUser(name: string): RunUser | undefined {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 10_000 });
  if (!r.error) return r.status === 0 ? parsePasswd(r.stdout.split('\n')[0] ?? '') : undefined;
  try {
    return fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map(parsePasswd)
      .find((u) => u?.name === name);
  } catch {
    return undefined;
  }
}

/**
 * Who scripts run as, decided once at worker start: `user` is set when spawns must switch to it; a
 * warning is returned when scripts are not isolated from the worker's user. A configured user that
 * does not exist, or one a non-root worker cannot switch to, is a ConfigError.
 */
export function resolveRunUser(isolation: Config['isolation']): { user: RunUser | undefined; warning?: string } {
  const me = os.userInfo();
  if (isolation.runAs === undefined)
    return {
      user: undefined,
      warning: `scripts run as this worker's user (${me.username}, uid ${me.uid}) and are NOT isolated from it: they can read everything it can. Run the worker as root to run them as ${DEFAULT_RUN_USER} (see STACKWIRE_RUN_AS in the README).`,
    };
  const user = lookupUser(isolation.runAs);
  if (!user)
    throw new ConfigError(
      `STACKWIRE_RUN_AS=${isolation.runAs}: there is no such user on this machine${isolation.runAs === DEFAULT_RUN_USER ? ' (the default when the worker runs as root; npm start creates it)' : ''}. Create it (useradd --system --no-create-home --shell /usr/sbin/nologin ${isolation.runAs}) or set STACKWIRE_RUN_AS to an existing unprivileged user.`,
    );
  if (user.uid === me.uid)
    return {
      user: undefined,
      warning: `scripts run as this worker's user (${me.username}, uid ${me.uid}, STACKWIRE_RUN_AS) and are NOT isolated from it: they can read everything it can.`,
    };
  if (me.uid !== 0)
    throw new ConfigError(
      `STACKWIRE_RUN_AS=${isolation.runAs}: only a worker running as root can run scripts as another user, and this one runs as ${me.username} (uid ${me.uid}). Start the worker as root, or unset STACKWIRE_RUN_AS.`,
    );
  return { user, ...(user.uid === 0 ? { warning: `STACKWIRE_RUN_AS=${isolation.runAs} has uid 0: scripts run as root and are NOT isolated.` } : {}) };
}

function chmodIfOurs(p: string, mode: number): void {
  try {
    fs.chmodSync(p, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM' && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The data folder readable by the worker's user only (0700), the secret key file 0600. */
export function secureDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodIfOurs(dataDir, 0o700);
  chmodIfOurs(path.join(dataDir, 'secret.key'), 0o600);
}

export interface RunLayout {
  root: string;
  /** Materialised pack versions. */
  packs: string;
  /** Per-run working folders. */
  work: string;
  /** The StackStorm python shim, readable by the run user. */
  shim: string;
  /** StackStorm packs' Python environments (lib/pack-venv.ts), readable by the run user. */
  venvs: string;
}

/** A folder of ours with exactly this mode; one that belongs to someone else is refused (a script could change pack files in it). */
function ownDir(p: string, mode: number): void {
  fs.mkdirSync(p, { recursive: true, mode });
  const st = fs.statSync(p);
  if (st.uid !== os.userInfo().uid)
    throw new ConfigError(
      `STACKWIRE_RUN_DIR: ${p} belongs to uid ${st.uid}, not to the worker's user; scripts could change the pack files in it. Remove it or point STACKWIRE_RUN_DIR elsewhere.`,
    );
  fs.chmodSync(p, mode);
}

/** Every folder above the run folder must let the run user pass (e.g. not inside /root, which is 0700). */
function checkReachable(runDir: string, user: RunUser): void {
  for (let d = path.dirname(runDir); ; d = path.dirname(d)) {
    const st = fs.statSync(d, { throwIfNoEntry: false });
    if (!st) continue; // created below, 0755
    const x = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!x)
      throw new ConfigError(
        `STACKWIRE_RUN_DIR=${runDir}: the run user ${user.name} cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}), so scripts could not read their pack files. Choose a folder it can reach, e.g. /var/lib/stackwire.`,
      );
    if (d === path.dirname(d)) return;
  }
}

/** Creates (or checks) the run folder's layout; called at worker start. */
export function prepareRunDir(runDir: string, user?: RunUser): RunLayout {
  if (user) checkReachable(runDir, user);
  const layout: RunLayout = {
    root: runDir,
    packs: path.join(runDir, 'packs'),
    work: path.join(runDir, 'work'),
    venvs: path.join(runDir, 'venvs'),
    // Named by its content: checkouts of different versions may share one run folder.
    shim: path.join(runDir, 'runners', `st2_python_shim-${crypto.createHash('sha256').update(fs.readFileSync(ST2_SHIM)).digest('hex').slice(0, 12)}.py`),
  };
  ownDir(runDir, 0o755);
  ownDir(layout.packs, 0o755);
  ownDir(layout.work, 0o711);
  ownDir(layout.venvs, 0o755);
  sweepWorkDirs(layout.work);
  ownDir(path.dirname(layout.shim), 0o755);
  // The project may sit in a folder the run user cannot enter (/root): the shim is copied out, atomically.
  if (!fs.existsSync(layout.shim)) {
    const tmp = `${layout.shim}.${process.pid}.tmp`;
    fs.copyFileSync(ST2_SHIM, tmp);
    fs.chmodSync(tmp, 0o644);
    fs.renameSync(tmp, layout.shim);
  }
  return layout;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Working folders left behind by a worker that died mid-run (named <worker pid>.<run>-…): removed once that pid is gone. */
function sweepWorkDirs(work: string): void {
  for (const name of fs.readdirSync(work)) {
    const pid = /^(\d+)\./.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !pidAlive(Number(pid))) fs.rmSync(path.join(work, name), { recursive: true, force: true });
  }
}

export interface WorkDir {
  /** The script's cwd. */
  dir: string;
  home: string;
  tmp: string;
  remove(): void;
  /** The same without blocking the event loop (rm of a few folders: ~0.5 ms). */
  removeAsync(): Promise<void>;
}

/** A working folder for one run, owned by the run user (0700), with home/ and tmp/ inside. */
export function createWorkDir(layout: RunLayout, label: string, user: RunUser | undefined): WorkDir {
  const dir = fs.mkdtempSync(workDirPrefix(layout, label));
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  try {
    fs.mkdirSync(home, { mode: 0o700 });
    fs.mkdirSync(tmp, { mode: 0o700 });
    if (user) for (const d of [dir, home, tmp]) fs.chownSync(d, user.uid, user.gid);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return workDir(dir);
}

/**
 * The same, made off the event loop (the file system calls run on libuv's threads): a busy worker's
 * main thread spent ~1 ms a run in them (a 500-item fan-out's profile), every other run waiting.
 */
export async function createWorkDirAsync(layout: RunLayout, label: string, user: RunUser | undefined): Promise<WorkDir> {
  const dir = await fs.promises.mkdtemp(workDirPrefix(layout, label));
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  try {
    await Promise.all([fs.promises.mkdir(home, { mode: 0o700 }), fs.promises.mkdir(tmp, { mode: 0o700 })]);
    if (user) await Promise.all([dir, home, tmp].map((d) => fs.promises.chown(d, user.uid, user.gid)));
  } catch (err) {
    await fs.promises.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return workDir(dir);
}

function workDirPrefix(layout: RunLayout, label: string): string {
  return path.join(layout.work, `${process.pid}.${label.replace(/[^\w.-]/g, '_').slice(0, 80)}-`);
}

function workDir(dir: string): WorkDir {
  const remove = () => {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // A script that made a folder unreadable to its own user (not a problem for root): open it up and retry.
      spawnSync('chmod', ['-R', 'u+rwx', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  return {
    dir,
    home: path.join(dir, 'home'),
    tmp: path.join(dir, 'tmp'),
    remove,
    removeAsync: async () => {
      try {
        await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        remove();
      }
    },
  };
}
