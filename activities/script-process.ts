/**
 * The building blocks of running a pack's script isolated from the worker, shared by action runs
 * (run-action.ts) and script sensors (sensor-script.ts): the pack version materialised on this worker,
 * the argv with the script by its absolute path, and the spawn itself — as the run user, in a working
 * folder of its own (cwd, HOME, TMPDIR), with an environment built from an allow-list (PATH, LANG, TZ and
 * the STACKWIRE_* variables the caller names), in a process group of its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { buildArgv } from '../common/argv.js';
import type { ActionSpec } from '../common/types.js';
import { createWorkDir, createWorkDirAsync, type RunLayout, type RunUser, type WorkDir } from '../lib/isolation.js';
import { ST2_SHIM_TOKEN } from '../lib/paths.js';
import { RUN_DIR_TOKEN } from '../lib/ssh.js';
import { startProcess, type ProcessOptions, type RunningProcess } from '../lib/spawn.js';
import type { Pool } from '../db/pool.js';
import { isSealed, secretValues, unsealSecrets } from '../lib/secrets.js';
import { materializePack } from './materialize.js';

/** What these need of the activity dependencies (activities/run-action.ts ActivityDeps). */
interface ScriptDeps {
  pool: Pool;
  region: string;
  runLayout: RunLayout;
  runUser: RunUser | undefined;
  scriptEnv: Record<string, string>;
}

/** Where the script file sits in each runner's argv (after its interpreter). */
const ENTRY_INDEX: Record<string, number> = { python: 1, shell: 1, node: 1, 'st2-python': 2, exec: 0 };

/**
 * The argv as spawned: the script by its absolute path in the materialised pack (the cwd is the run's
 * own folder, not the pack), and the StackStorm shim from the run folder, which the run user can read.
 */
export function scriptArgv(action: Pick<ActionSpec, 'runner' | 'entryPoint'>, argv: string[], packDir: string, shim: string): string[] {
  const out = [...argv];
  if ((action.runner === 'st2-python' || action.runner === 'st2-remote') && out[1] === ST2_SHIM_TOKEN) out[1] = shim;
  const i = action.runner === 'st2-python' && out[2] === '--sensor' ? 3 : ENTRY_INDEX[action.runner];
  if (i !== undefined && out[i] !== undefined) {
    const file = path.resolve(packDir, action.entryPoint);
    if (file.startsWith(packDir + path.sep) && fs.existsSync(file)) out[i] = file;
  }
  return out;
}

/** The folder the action's pack version is in on this worker (materialised from Postgres when it names one). */
export async function actionPackDir(deps: Pick<ScriptDeps, 'pool' | 'runLayout'>, action: ActionSpec): Promise<string> {
  try {
    return action.packRef
      ? await materializePack(deps.pool, deps.runLayout.packs, action.packRef)
      : action.packDir
        ? path.resolve(action.packDir)
        : process.cwd();
  } catch (err) {
    throw ApplicationFailure.create({ message: `cannot materialise ${action.name}'s pack: ${(err as Error).message}`, type: 'PackUnavailable' });
  }
}

/** The command line of a script action with its (clear) parameters; an empty one is not runnable. */
export function scriptCommand(deps: Pick<ScriptDeps, 'runLayout'>, action: ActionSpec, clear: Record<string, unknown>, packDir: string): string[] {
  const argv = scriptArgv(action, buildArgv(action, clear), packDir, deps.runLayout.shim);
  if (!argv[0]) throw ApplicationFailure.nonRetryable(`${action.name} has an empty command line`, 'ActionNotRunnable');
  return argv;
}

/** Runners whose scripts can run on a bare-metal host (the host's own interpreter). */
export const REMOTE_RUNNERS = ['python', 'shell', 'node', 'exec'];

/** The argv run on a bare-metal host: the script by its path in the run's folder there (lib/ssh.ts). */
export function remoteArgv(action: ActionSpec, clear: Record<string, unknown>): string[] {
  if (!REMOTE_RUNNERS.includes(action.runner))
    throw ApplicationFailure.nonRetryable(
      `${action.name} (runner ${action.runner}) cannot run on a bare-metal host: only ${REMOTE_RUNNERS.join(', ')} scripts run there, with the host's interpreter`,
      'ActionNotRunnable',
    );
  const argv = buildArgv(action, clear);
  const i = ENTRY_INDEX[action.runner];
  if (!action.parameters.st2Cmd && i !== undefined && argv[i] !== undefined) argv[i] = `${RUN_DIR_TOKEN}/pack/${path.posix.normalize(action.entryPoint)}`;
  if (!argv[0]) throw ApplicationFailure.nonRetryable(`${action.name} has an empty command line`, 'ActionNotRunnable');
  return argv;
}

export interface IsolatedScript {
  action: ActionSpec;
  argv: string[];
  packDir: string;
  /** Names the working folder (unique per run and attempt). */
  label: string;
  /** STACKWIRE_* variables for the script, besides STACKWIRE_ACTION, STACKWIRE_REGION and STACKWIRE_PACK_DIR. */
  env: Record<string, string>;
  stdin?: string;
  /** Answers requests the script makes on fd 3 (the StackStorm shim's datastore). */
  channel?: (request: unknown) => Promise<unknown>;
  timeoutMs?: number;
  killGraceMs: number;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
}

/** A working folder of its own for a run (cwd, HOME, TMPDIR), owned by the run user. */
export function newWorkDir(deps: Pick<ScriptDeps, 'runLayout' | 'runUser'>, label: string, what: string): WorkDir {
  try {
    return createWorkDir(deps.runLayout, label, deps.runUser);
  } catch (err) {
    throw ApplicationFailure.create({ message: `cannot create a working folder for ${what}: ${(err as Error).message}`, type: 'ActionNotRunnable' });
  }
}

/** newWorkDir, made off the event loop (lib/isolation.ts createWorkDirAsync). */
export async function newWorkDirAsync(deps: Pick<ScriptDeps, 'runLayout' | 'runUser'>, label: string, what: string): Promise<WorkDir> {
  try {
    return await createWorkDirAsync(deps.runLayout, label, deps.runUser);
  } catch (err) {
    throw ApplicationFailure.create({ message: `cannot create a working folder for ${what}: ${(err as Error).message}`, type: 'ActionNotRunnable' });
  }
}

/** Working folders being made or in use by this worker's runs (WorkDirAhead). */
let inUse = 0;

/**
 * A run's working folder made ahead, while its start is recorded and its pack found: `take()` it for
 * the spawn (once), or `drop()` it on any other way out (removed when it is made). Alone, a run makes it
 * at once (six calls, ~0.35 ms); with others running it is made on libuv's threads (~1.3 ms until it
 * is there, but the event loop the other runs need stays free: a fan-out spent ~1 ms of it a run).
 */
export class WorkDirAhead {
  private readonly made: Promise<WorkDir>;
  private taken = false;
  private done = false;
  constructor(deps: Pick<ScriptDeps, 'runLayout' | 'runUser'>, label: string, what: string) {
    inUse++;
    this.made = inUse > 1 ? newWorkDirAsync(deps, label, what) : new Promise<WorkDir>((resolve) => resolve(newWorkDir(deps, label, what))); // a throw rejects it
    this.made.catch(() => undefined); // taken, or dropped
  }
  take(): Promise<WorkDir> {
    this.taken = true;
    return this.made;
  }
  /** At the attempt's end, whatever happened: its count goes, and a folder not taken is removed. */
  drop(): void {
    if (this.done) return;
    this.done = true;
    inUse--;
    if (!this.taken) this.made.then((w) => w.removeAsync()).catch(() => undefined);
  }
}

/**
 * Starts a process as the run user in `work`, with an allow-listed environment: nothing of the worker's
 * own beyond PATH, LANG and TZ, then HOME and TMPDIR in `work`, then `env`. Output goes to the callbacks
 * only (the callers keep, and redact, what they record).
 */
export function startInWorkDir(
  deps: Pick<ScriptDeps, 'runUser' | 'scriptEnv'>,
  work: WorkDir,
  o: Omit<ProcessOptions, 'cwd' | 'uid' | 'gid' | 'captureBytes'>,
): RunningProcess {
  return startProcess({
    ...o,
    cwd: work.dir,
    ...(deps.runUser ? { uid: deps.runUser.uid, gid: deps.runUser.gid } : {}),
    env: { ...deps.scriptEnv, HOME: work.home, TMPDIR: work.tmp, ...o.env },
    captureBytes: 0,
  });
}

/**
 * Starts the script as the run user in a new working folder (or in `made`, one made for it with
 * newWorkDirAsync); the caller removes `work` once `proc.done` resolves.
 */
export function startIsolatedScript(
  deps: Pick<ScriptDeps, 'runLayout' | 'runUser' | 'scriptEnv' | 'region'>,
  o: IsolatedScript,
  made?: WorkDir,
): { proc: RunningProcess; work: WorkDir } {
  const work = made ?? newWorkDir(deps, o.label, o.action.name);
  try {
    const proc = startInWorkDir(deps, work, {
      argv: o.argv,
      env: {
        ...o.env,
        STACKWIRE_ACTION: o.action.name,
        STACKWIRE_REGION: deps.region,
        STACKWIRE_PACK_DIR: o.packDir,
        PYTHONUNBUFFERED: '1',
        ...(o.channel ? { STACKWIRE_DATASTORE_FD: '3', STACKWIRE_PACK: o.action.pack } : {}),
      },
      ...(o.channel ? { channel: o.channel } : {}),
      ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      killGraceMs: o.killGraceMs,
      onStdout: o.onStdout,
      onStderr: o.onStderr,
    });
    return { proc, work };
  } catch (err) {
    work.remove();
    throw err;
  }
}

/**
 * The parameters in clear for the script, and every value to mask in its output: the declared secret
 * parameters and any value that arrived sealed (a pipeline's secrets), longest first. A parameter that
 * cannot be opened is not retryable.
 */
export function openParameters(
  keys: { secretKey: Buffer | undefined; oldSecretKeys?: Buffer[] | undefined },
  action: ActionSpec,
  parameters: Record<string, unknown>,
): { clear: Record<string, unknown>; secrets: string[] } {
  let clear: Record<string, unknown>;
  try {
    clear = unsealSecrets(parameters, keys.secretKey, keys.oldSecretKeys);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'ActionNotRunnable');
  }
  const sealedValues = Object.entries(parameters).flatMap(([k, v]) =>
    isSealed(v) && clear[k] != null ? [typeof clear[k] === 'string' ? clear[k] : JSON.stringify(clear[k])] : [],
  );
  return { clear, secrets: [...new Set([...secretValues(action, clear), ...sealedValues])].sort((a, b) => b.length - a.length) };
}
