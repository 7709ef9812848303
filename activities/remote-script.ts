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
import { createWorkDir, type RunLayout, type RunUser, type WorkDir } from '../lib/isolation.js';
import { remoteBundle, sshArgv, writeSshFiles, type SshTarget } from '../lib/ssh.js';
import { startProcess, type RunningProcess } from '../lib/spawn.js';

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
  let work: WorkDir;
  try {
    work = createWorkDir(deps.runLayout, o.label, deps.runUser);
  } catch (err) {
    throw ApplicationFailure.create({ message: `cannot create a working folder for the SSH run: ${(err as Error).message}`, type: 'ActionNotRunnable' });
  }
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
    const proc = startProcess({
      argv,
      cwd: work.dir,
      ...(deps.runUser ? { uid: deps.runUser.uid, gid: deps.runUser.gid } : {}),
      env: { ...deps.scriptEnv, HOME: work.home, TMPDIR: work.tmp },
      stdin: bundle,
      stdinOpen: true,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      killGraceMs: o.killGraceMs,
      captureBytes: 0,
      onStdout: o.onStdout,
      onStderr: o.onStderr,
    });
    return { proc, work };
  } catch (err) {
    work.remove();
    throw err;
  }
}
