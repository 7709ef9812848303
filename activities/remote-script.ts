/**
 * A program run on a bare-metal host over SSH (lib/ssh.ts), started like a local script
 * (script-process.ts): a working folder of its own on the worker (the ssh client's key and known hosts,
 * the bundle's staging), the ssh client as the run user with an allow-listed environment, in a process
 * group of its own. Stopping it (a timeout, a cancellation) stops the client, and the bootstrap on the
 * host then stops the program.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { RunLayout, RunUser, WorkDir } from '../lib/isolation.js';
import { newWorkDir, remoteArgv, startInWorkDir } from './script-process.js';
import { st2CmdEnv } from '../common/argv.js';
import type { ActionSpec } from '../common/types.js';
import { REMOTE_SETUP_FAILED, remoteBundle, sshArgv, sshFailure, writeSshFiles, type SshTarget } from '../lib/ssh.js';
import type { RunningProcess } from '../lib/spawn.js';

export interface RemoteScript {
  target: SshTarget;
  /** Names the working folder (unique per run and attempt). */
  label: string;
  /** What runs on the host; entries starting with @RUN@/ are paths in the run's folder there. */
  argv: string[];
  /** The program's environment on the host, besides the host's own (STACKWIRE_RUN_DIR, STACKWIRE_PACK_DIR). */
  env: Record<string, string>;
  /** Puts the run's files into the staging folder (sent with the run). */
  stage: (dir: string) => void | Promise<void>;
  timeoutMs?: number;
  killGraceMs: number;
  signal?: AbortSignal;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
}

export async function startRemoteScript(
  deps: { runLayout: RunLayout; runUser: RunUser | undefined; scriptEnv: Record<string, string> },
  o: RemoteScript,
): Promise<{ proc: RunningProcess; work: WorkDir }> {
  const work = newWorkDir(deps, o.label, `the SSH run on ${o.target.host}`);
  try {
    const stage = path.join(work.dir, 'stage');
    fs.mkdirSync(stage, { mode: 0o700 });
    await o.stage(stage);
    let argv: string[];
    let bundle: Buffer;
    try {
      argv = sshArgv(o.target, path.join(work.dir, 'ssh'));
      bundle = await remoteBundle(stage, o.argv, o.env, deps.scriptEnv, o.signal);
    } catch (err) {
      throw ApplicationFailure.create({ message: `${o.target.host}: ${(err as Error).message}`, type: 'ActionNotRunnable', nonRetryable: true });
    }
    fs.rmSync(stage, { recursive: true, force: true });
    writeSshFiles(o.target, path.join(work.dir, 'ssh'), deps.runUser);
    const proc = startInWorkDir(deps, work, {
      argv,
      env: {},
      stdin: bundle,
      stdinOpen: true,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
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

/** A bare-metal run's failure that is SSH's or the bootstrap's, not the script's. */
export function remoteFailure(code: number | null, stderrTail: string, target: SshTarget): { type: string; message: string; retryable: boolean } | undefined {
  if (code === 255) return sshFailure(stderrTail, target);
  if (code === REMOTE_SETUP_FAILED && /^stackwire: /m.test(stderrTail))
    return {
      type: 'RemoteSetupFailed',
      message: `${target.host}: ${stderrTail.trim().split('\n').pop()?.slice(0, 300) ?? ''} (the host needs sh, mktemp, head, tar, gzip and base64)`,
      retryable: false,
    };
  return undefined;
}

/** An action's script run on a bare-metal host: its pack version sent along, the host's interpreter. */
export function startRemoteAction(
  deps: { runLayout: RunLayout; runUser: RunUser | undefined; scriptEnv: Record<string, string>; region: string },
  o: {
    target: SshTarget;
    action: ActionSpec;
    clear: Record<string, unknown>;
    packDir: string;
    label: string;
    env: Record<string, string>;
    killGraceMs: number;
    onStdout: (chunk: Buffer) => void;
    onStderr: (chunk: Buffer) => void;
  },
): Promise<{ proc: RunningProcess; work: WorkDir }> {
  return startRemoteScript(deps, {
    target: o.target,
    label: o.label,
    argv: remoteArgv(o.action, o.clear),
    env: {
      ...st2CmdEnv(o.action, o.clear),
      ...o.env,
      STACKWIRE_ACTION: o.action.name,
      STACKWIRE_REGION: deps.region,
      STACKWIRE_HOST: o.target.host,
      PYTHONUNBUFFERED: '1',
    },
    stage: (dir) => fs.cpSync(o.packDir, path.join(dir, 'pack'), { recursive: true, verbatimSymlinks: true }),
    timeoutMs: o.action.timeoutSeconds * 1000,
    killGraceMs: o.killGraceMs,
    onStdout: o.onStdout,
    onStderr: o.onStderr,
  });
}
