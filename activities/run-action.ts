/**
 * Runs an action's script on this worker: spawned with an argv array (never a shell), in its own
 * process group so a timeout or a cancellation kills everything it started. Heartbeats while it
 * runs; output is capped and recorded in Postgres, only short tails go back into workflow history.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { buildArgv, maskArgv, maskParameters } from '../common/argv.js';
import { redact, secretValues, unsealSecrets } from '../lib/secrets.js';
import { ST2_SHIM, ST2_SHIM_TOKEN } from '../lib/paths.js';
import { BUILTINS } from './builtins.js';
import { LogShipper } from './log-shipper.js';
import { materializePack } from './materialize.js';
import type { SensuClient } from '../lib/sensu.js';
import type { RunActionInput, RunActionResult } from '../common/types.js';
import { recordFinish, recordOutcomeWithoutStart, recordStart, type ExecutionStart } from '../db/executions.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';

export interface ActivityDeps {
  pool: Pool;
  region: string;
  /** Who runs the work: region@host/pid. Recorded on every execution. */
  identity: string;
  outputCapBytes: number;
  logger: Logger;
  /** Seconds between SIGTERM and SIGKILL when a run is stopped. */
  killGraceSeconds?: number;
  /** Where pack versions are materialised. */
  cacheDir: string;
  /** Local state (Puppet-managed files of deployments live under it). */
  dataDir: string;
  /** The operator's Puppet modules (STACKWIRE_PUPPET_MODULEPATH); unset: stand-in role classes. */
  puppetModulePath?: string[] | undefined;
  /** The Sensu backend, when one is configured. */
  sensu: SensuClient | undefined;
  /** Opens sealed secret parameters (STACKWIRE_SECRET_KEY). */
  secretKey: Buffer | undefined;
  /** Keys of before a rotation (STACKWIRE_OLD_SECRET_KEYS): values they sealed still open. */
  oldSecretKeys?: Buffer[];
  /** Environment passed to scripts (PATH, HOME, LANG …), never the worker's secrets. */
  scriptEnv: Record<string, string>;
}

/**
 * Keeps the first `cap` bytes of a stream and counts the rest; also keeps a short tail. Secrets are
 * redacted before either is cut, so a secret across the cut never leaves a clear prefix behind.
 */
class CappedOutput {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  private tailBuf = Buffer.alloc(0);
  private readonly slack: number;
  constructor(
    private readonly cap: number,
    private readonly secrets: string[],
    private readonly tailBytes = 2048,
  ) {
    this.slack = Math.max(0, ...secrets.map((s) => Buffer.byteLength(s)));
  }
  push(chunk: Buffer): void {
    this.total += chunk.length;
    const keep = this.cap + this.slack;
    if (this.kept < keep) {
      const take = chunk.subarray(0, keep - this.kept);
      this.chunks.push(take);
      this.kept += take.length;
    }
    this.tailBuf = Buffer.concat([this.tailBuf, chunk]);
    const tailKeep = this.tailBytes + this.slack;
    if (this.tailBuf.length > tailKeep) this.tailBuf = this.tailBuf.subarray(this.tailBuf.length - tailKeep);
  }
  get truncated(): boolean {
    return this.total > this.cap;
  }
  text(): string {
    const s = redact(Buffer.concat(this.chunks).toString('utf8'), this.secrets).slice(0, this.cap);
    return this.truncated ? `${s}\n[… ${this.total - this.cap} more bytes not kept]` : s;
  }
  tail(): string {
    const s = redact(this.tailBuf.toString('utf8'), this.secrets);
    return s.slice(-this.tailBytes);
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

export function createRunAction(deps: ActivityDeps) {
  const grace = (deps.killGraceSeconds ?? 5) * 1000;

  return async function runAction(input: RunActionInput): Promise<RunActionResult> {
    const ctx = Context.current();
    const info = ctx.info;
    const { action } = input;
    const log = deps.logger.child({ executionId: input.executionId, action: action.name, region: deps.region, attempt: info.attempt });
    const shownArgv = maskArgv(action, input.parameters);
    await recordStart(deps.pool, {
      id: input.executionId,
      workflowId: info.workflowExecution?.workflowId ?? input.executionId,
      runId: info.workflowExecution?.runId ?? '',
      ...(input.parentId ? { parentId: input.parentId } : {}),
      action: action.name,
      actionVersion: action.version,
      region: deps.region,
      parameters: maskParameters(action, input.parameters),
      argv: shownArgv,
      worker: deps.identity,
      attempt: info.attempt,
      actor: input.actor,
      trigger: input.trigger,
    });

    let clear: Record<string, unknown>;
    try {
      clear = unsealSecrets(input.parameters, deps.secretKey, deps.oldSecretKeys);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, 'ActionNotRunnable');
    }
    const secrets = secretValues(action, clear);
    const [command, ...args] = buildArgv(action, clear).map((a, i) => (i === 1 && action.runner === 'st2-python' && a === ST2_SHIM_TOKEN ? ST2_SHIM : a));
    const stdout = new CappedOutput(deps.outputCapBytes, secrets);
    const stderr = new CappedOutput(deps.outputCapBytes, secrets);
    let cwd: string;
    try {
      cwd = action.packRef ? await materializePack(deps.pool, deps.cacheDir, action.packRef) : action.packDir ? path.resolve(action.packDir) : process.cwd();
    } catch (err) {
      throw ApplicationFailure.create({ message: `cannot materialise ${action.name}'s pack: ${(err as Error).message}`, type: 'PackUnavailable' });
    }
    if (!command) throw ApplicationFailure.nonRetryable(`${action.name} has an empty command line`, 'ActionNotRunnable');
    const started = Date.now();
    log.info({ argv: shownArgv }, 'action started');
    const logs = new LogShipper(deps.pool, input.executionId, secrets, deps.outputCapBytes * 4, (err) => log.warn({ err }, 'could not ship output'));
    await logs.start(info.attempt);
    let stopReason: 'timeout' | 'cancel' | undefined;
    let cancelError: unknown;
    let outcome: { code: number | null; signal: NodeJS.Signals | null; spawnError?: Error };
    if (action.runner === 'builtin') {
      const builtin = BUILTINS[action.entryPoint];
      if (!builtin) throw ApplicationFailure.nonRetryable(`${action.name}: no built-in named ${action.entryPoint} on this worker`, 'ActionNotRunnable');
      try {
        const r = await builtin(clear, { pool: deps.pool, scriptEnv: deps.scriptEnv, heartbeat: (d) => ctx.heartbeat(d) });
        stdout.push(Buffer.from(r.stdout));
        logs.push('stdout', r.stdout);
        outcome = { code: r.exitCode, signal: null };
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        stderr.push(Buffer.from(msg));
        logs.push('stderr', `${msg}\n`);
        outcome = { code: 1, signal: null };
      }
    } else {
      const child = spawn(command, args, {
        cwd,
        detached: true, // own process group: kill(-pid) reaches every process the script started
        stdio: [action.runner === 'st2-python' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        env: {
          ...deps.scriptEnv,
          STACKWIRE_EXECUTION_ID: input.executionId,
          STACKWIRE_ACTION: action.name,
          STACKWIRE_REGION: deps.region,
          STACKWIRE_ATTEMPT: String(info.attempt),
          PYTHONUNBUFFERED: '1',
        },
      });
      if (child.stdin) {
        child.stdin.on('error', () => undefined); // a script that exits without reading stdin
        child.stdin.end(JSON.stringify(clear));
      }
      child.stdout!.on('data', (c: Buffer) => {
        stdout.push(c);
        logs.push('stdout', c);
      });
      child.stderr!.on('data', (c: Buffer) => {
        stderr.push(c);
        logs.push('stderr', c);
      });

      let killTimer: NodeJS.Timeout | undefined;
      const killGroup = (why: 'timeout' | 'cancel') => {
        if (stopReason || child.pid === undefined || child.exitCode !== null) return;
        stopReason = why;
        log.warn({ why }, 'stopping the action: SIGTERM to its process group');
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        killTimer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }, grace);
      };

      const timeout = setTimeout(() => killGroup('timeout'), action.timeoutSeconds * 1000);
      const beat = setInterval(() => ctx.heartbeat({ stdoutBytes: stdout.total, stderrBytes: stderr.total, elapsedMs: Date.now() - started }), 1000);
      ctx.cancelled.catch((err: unknown) => {
        cancelError = err;
        killGroup('cancel');
      });

      outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
        child.once('error', (err) => resolve({ code: null, signal: null, spawnError: err }));
        child.once('close', (code, signal) => resolve({ code, signal }));
      });
      clearTimeout(timeout);
      clearInterval(beat);
      // Whatever the outcome, nothing of the group may outlive the run.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* group already empty */
        }
      }
      if (killTimer) clearTimeout(killTimer);
    }

    const durationMs = Date.now() - started;
    await logs.stop();
    let status: RunActionResult['status'];
    let error: string | null = null;
    if (outcome.spawnError) {
      status = 'failed';
      error = `could not start ${command}: ${outcome.spawnError.message}`;
    } else if (stopReason === 'cancel') {
      status = 'cancelled';
      error = 'cancelled by request; the process group was killed';
    } else if (stopReason === 'timeout') {
      status = 'timed_out';
      error = `exceeded its timeout of ${action.timeoutSeconds}s; the process group was killed`;
    } else if (outcome.code === 0) {
      status = 'succeeded';
    } else {
      status = 'failed';
      const why = outcome.code !== null ? `exit code ${outcome.code}` : `killed by ${outcome.signal}`;
      const detail = lastLine(stderr.tail()) || lastLine(stdout.tail());
      error = detail ? `${why}: ${detail}` : why;
    }
    const result: RunActionResult = {
      executionId: input.executionId,
      status,
      exitCode: outcome.code,
      signal: outcome.signal,
      stdoutTail: stdout.tail(),
      stderrTail: stderr.tail(),
      durationMs,
      worker: deps.identity,
      region: deps.region,
    };
    // A failed attempt that Temporal will retry is not the run's end: the row stays "running" (with
    // this attempt's output and error) so readers keep following until the last attempt ends.
    const willRetry = status === 'failed' && !outcome.spawnError && outcome.code !== 2 && info.attempt < action.maxAttempts;
    await recordFinish(deps.pool, {
      id: input.executionId,
      status: willRetry ? 'running' : status,
      exitCode: outcome.code,
      signal: outcome.signal,
      stdout: stdout.text(),
      stderr: stderr.text(),
      stdoutTruncated: stdout.truncated,
      stderrTruncated: stderr.truncated,
      error,
    });
    log.info({ status, exitCode: outcome.code, durationMs }, 'action finished');

    switch (status) {
      case 'succeeded':
        return result;
      case 'cancelled':
        throw cancelError instanceof CancelledFailure ? cancelError : new CancelledFailure('cancelled');
      case 'timed_out':
        throw ApplicationFailure.create({ message: error!, type: 'ActionTimedOut', nonRetryable: true, details: [result] });
      default:
        throw ApplicationFailure.create({
          message: error!,
          // argparse, getopts and most CLIs exit 2 on a usage error: retrying cannot help.
          type: outcome.spawnError ? 'ActionNotRunnable' : outcome.code === 2 ? 'ActionUsageError' : 'ActionScriptFailed',
          details: [result],
        });
    }
  };
}

export function createRecordExecutionOutcome(deps: Pick<ActivityDeps, 'pool'>) {
  return async function recordExecutionOutcome(
    input: Omit<ExecutionStart, 'id' | 'worker' | 'attempt'> & { executionId: string; status: 'failed' | 'cancelled'; error: string },
  ): Promise<void> {
    await recordOutcomeWithoutStart(deps.pool, { ...input, id: input.executionId });
  };
}
