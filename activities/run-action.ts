/**
 * Runs an action's script on this worker: spawned with an argv array (never a shell), in its own
 * process group so a timeout or a cancellation kills everything it started. Heartbeats while it
 * runs; output is capped and recorded in Postgres, only short tails go back into workflow history.
 *
 * Isolated from the worker: the run user (STACKWIRE_RUN_AS) when the worker is root, a working folder
 * of its own (cwd, HOME and TMPDIR; removed afterwards), and an environment built from an allow-list
 * (PATH, LANG, TZ, STACKWIRE_EXECUTION_ID/ACTION/REGION/ATTEMPT/PACK_DIR) — never the worker's own.
 */
import { ParameterError, validateParameters } from '../common/parameters.js';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { maskArgv, maskParameters, st2CmdEnv, st2EnvVars } from '../common/argv.js';
import { datastoreHandler, packConfig, packPython, remoteRequest, shimRequest } from './st2-runtime.js';
import { SecretKeyError, isSealed, unsealSecrets } from '../lib/secrets.js';
import { BUILTINS } from './builtins.js';
import { CappedOutput } from '../lib/capped-output.js';
import { openSecretRefs } from './platform-secrets.js';
import { remoteFailure, startRemoteAction } from './remote-script.js';
import type { SshTarget } from '../lib/ssh.js';
import { LogShipper } from './log-shipper.js';
import { actionPackDir, WorkDirAhead, openParameters, remoteArgv, scriptCommand, startIsolatedScript } from './script-process.js';
import type { RunActionInput, RunActionResult } from '../common/types.js';
import { ATTEMPT_ABANDONED } from '../common/constants.js';
import { recordFinish, recordLost, recordOutcomeWithoutStart, recordStart, type ExecutionFinish, type ExecutionStart } from '../db/executions.js';
import { isUnreachable, whileUnreachable } from '../db/pool.js';
import type { ActivityDeps } from './activity-deps.js';
import { abandonedWhy, requestedCancel } from './attempt-cancel.js';

export type { ActivityDeps };

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

/**
 * A pipeline step's parameters, computed at run time: checked here, before anything runs or is
 * recorded. Sealed values (the run's secrets) are checked opened, and stay sealed in what is kept.
 */
function validatedAtRunTime(input: RunActionInput, keys: { secretKey: Buffer | undefined; oldSecretKeys?: Buffer[] | undefined }): Record<string, unknown> {
  try {
    const checked = validateParameters(input.action, unsealSecrets(input.parameters, keys.secretKey, keys.oldSecretKeys));
    for (const [k, v] of Object.entries(input.parameters)) if (isSealed(v)) checked[k] = v;
    return checked;
  } catch (err) {
    if (err instanceof ParameterError) throw ApplicationFailure.nonRetryable(err.message, 'ActionUsageError');
    if (err instanceof SecretKeyError) throw ApplicationFailure.nonRetryable(err.message, 'ActionNotRunnable');
    throw err;
  }
}

/** How long an attempt waits for an unreachable database to record its start or end (a restart, a failover). */
const DB_WAIT_MS = 5 * 60_000;

export function createRunAction(deps: ActivityDeps) {
  const grace = (deps.killGraceSeconds ?? 5) * 1000;

  /** What the heartbeats carry: set by each phase of the attempt. */
  interface Beat {
    details: () => Record<string, unknown>;
    /** The start's record, while it is being written (a local activity's script starts meanwhile). */
    recording?: Promise<unknown>;
  }

  return async function runAction(given: RunActionInput): Promise<RunActionResult> {
    const ctx = Context.current();
    // Heartbeats from the attempt's first moment to its last, every second: recording the start and
    // materialising the pack on a loaded machine take seconds, and a silent 10 s (the heartbeat timeout)
    // would count a live worker as lost.
    const beat: Beat = { details: () => ({ phase: 'preparing' }) };
    // A local activity has no heartbeat (its workflow task is what Temporal watches). Should it fail
    // before its script's start was recorded, the record is waited for: it must not land after a
    // later attempt's end.
    if (ctx.info.isLocal)
      return attemptAction(given, ctx, beat).catch(async (err: unknown) => {
        await beat.recording?.catch(() => undefined);
        throw err;
      });
    ctx.heartbeat(beat.details());
    const timer = setInterval(() => ctx.heartbeat(beat.details()), 1000);
    try {
      return await attemptAction(given, ctx, beat);
    } finally {
      clearInterval(timer);
    }
  };

  /** An attempt, with its script's working folder made meanwhile (a local script's, on a shell runner). */
  async function attemptAction(given: RunActionInput, ctx: Context, beat: Beat): Promise<RunActionResult> {
    const ahead =
      given.remote || given.action.runner === 'builtin'
        ? undefined
        : new WorkDirAhead(deps, `${given.executionId}.${given.attempt ?? ctx.info.attempt}`, given.action.name);
    try {
      return await attemptIn(given, ctx, beat, ahead);
    } finally {
      ahead?.drop();
    }
  }

  async function attemptIn(given: RunActionInput, ctx: Context, beat: Beat, ahead: WorkDirAhead | undefined): Promise<RunActionResult> {
    const info = ctx.info;
    const input = given.validate ? { ...given, parameters: validatedAtRunTime(given, deps) } : given;
    const { action } = input;
    const attempt = given.attempt ?? info.attempt;
    const log = deps.logger.child({ executionId: input.executionId, action: action.name, actor: input.actor, attempt });
    const remote = input.remote;
    // A bare-metal host's run: only scripts the host's interpreter runs; refused before anything is recorded.
    if (remote) remoteArgv(action, {});
    const shownArgv = remote
      ? ['ssh', `${remote.user}@${remote.host}:${remote.port}`, '--', ...maskArgv(action, input.parameters)]
      : maskArgv(action, input.parameters);
    // A database restart must not turn into the run's failure: its records wait for it (heartbeating).
    const untilDbAnswers = <T>(what: string, fn: () => Promise<T>) =>
      whileUnreachable(fn, {
        maxMs: DB_WAIT_MS,
        signal: ctx.cancellationSignal,
        onWait: (err, waited) => {
          if (waited < 1000) log.warn({ err, phase: what }, 'the database does not answer; trying again every second');
        },
      });
    // A local activity (a short idempotent step) starts its script while its start is recorded, and
    // waits for the record once the script runs: a re-run is harmless by the action's declaration, and
    // the record and the log still come before the end. Any other attempt starts nothing unrecorded.
    const overlap = info.isLocal && action.idempotent === true && !remote && action.runner !== 'builtin';
    const recording = untilDbAnswers('recording the start', () =>
      recordStart(deps.pool, {
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
        attempt,
        actor: input.actor,
        trigger: input.trigger,
      }),
    );
    recording.catch(() => undefined); // awaited below
    beat.recording = recording;
    if (!overlap) await recording;

    const { clear, secrets } = openParameters(deps, action, input.parameters);
    const packDir = await untilDbAnswers('materialising the pack', () => actionPackDir(deps, action));
    // A StackStorm python-script action gets its pack's config (its secrets are masked like parameters).
    const st2 =
      action.runner === 'st2-python' || action.runner === 'st2-remote'
        ? await untilDbAnswers('reading the pack config', () => packConfig(deps, action.pack, packDir))
        : undefined;
    const mask = (s: string) => {
      if (s === '' || secrets.includes(s)) return;
      secrets.push(s);
      secrets.sort((a, b) => b.length - a.length);
    };
    st2?.secrets.forEach(mask);
    const target: SshTarget | undefined = remote
      ? { ...remote, privateKey: (await openSecretRefs(deps, { privateKey: remote.sshKey })).privateKey ?? '' }
      : undefined;
    if (target) mask(target.privateKey);
    const stdout = new CappedOutput(deps.outputCapBytes, secrets);
    const stderr = new CappedOutput(deps.outputCapBytes, secrets);
    const logs = new LogShipper(deps.pool, input.executionId, secrets, deps.outputCapBytes * 4, (err) => log.warn({ err }, 'could not ship output'));
    const startLog = async () => logs.start(attempt, (await recording).nextLogSeq);
    if (!overlap) await startLog();
    const [firstArg, ...args] = scriptCommand(deps, action, clear, packDir);
    let command = firstArg;
    if (st2 && action.runner === 'st2-python') {
      // Its pack's own Python environment, built on first use from requirements.txt (progress in the run's log).
      beat.details = () => ({ phase: 'building the pack environment' });
      const python = await packPython(
        { ...deps, venvRoot: deps.runLayout.venvs },
        action.pack,
        packDir,
        (line) => logs.push('system', `${line}\n`),
        ctx.cancellationSignal,
      );
      if (python) command = python;
    }
    const started = Date.now();
    log.info({ argv: shownArgv }, 'action started');
    let stopReason: 'timeout' | 'cancel' | undefined;
    let cancelError: unknown;
    let outcome: { code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException; lostSpawner?: boolean };
    let removal: Promise<void> | undefined;
    if (action.runner === 'builtin') {
      const builtin = BUILTINS[action.entryPoint];
      if (!builtin) throw ApplicationFailure.nonRetryable(`${action.name}: no built-in named ${action.entryPoint} on this worker`, 'ActionNotRunnable');
      try {
        const r = await builtin(clear, {
          pool: deps.pool,
          scriptEnv: deps.scriptEnv,
          git: deps.git,
          ingestPaths: deps.ingestPaths,
          heartbeat: (d) => ctx.heartbeat(d),
          signal: ctx.cancellationSignal,
        });
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
      const env = { STACKWIRE_EXECUTION_ID: input.executionId, STACKWIRE_ATTEMPT: String(attempt) };
      const output = {
        onStdout: (c: Buffer) => {
          stdout.push(c);
          logs.push('stdout', c);
        },
        onStderr: (c: Buffer) => {
          stderr.push(c);
          logs.push('stderr', c);
        },
      };
      if (target) command = 'ssh';
      const { proc, work } = target
        ? await startRemoteAction(deps, { target, action, clear, packDir, label: `${input.executionId}.${attempt}`, env, killGraceMs: grace, ...output })
        : startIsolatedScript(
            deps,
            {
              action,
              argv: [command, ...args],
              packDir,
              label: `${input.executionId}.${attempt}`,
              env: { ...st2EnvVars(action, clear), ...st2CmdEnv(action, clear), ...env },
              ...(st2 && action.runner === 'st2-remote' ? { stdin: remoteRequest(action, clear, st2.config, packDir, mask) } : {}),
              ...(st2 && action.runner === 'st2-python'
                ? {
                    stdin: shimRequest(action, clear, st2.config),
                    channel: datastoreHandler(deps, action.pack, mask),
                  }
                : {}),
              timeoutMs: action.timeoutSeconds * 1000,
              killGraceMs: grace,
              ...output,
            },
            await ahead!.take(),
          );
      try {
        if (overlap) {
          try {
            await startLog();
          } catch (err) {
            // The start could not be recorded (the database gone for minutes): nothing of it may go on.
            proc.stop('abort');
            await proc.done;
            throw err;
          }
        }
        beat.details = () => ({ phase: 'running', stdoutBytes: stdout.total, stderrBytes: stderr.total, elapsedMs: Date.now() - started });
        ctx.cancelled.catch((err: unknown) => {
          cancelError = err;
          // Why Temporal cancelled it: requested, or the attempt timed out / is gone on the server.
          log.warn({ why: 'cancel', reason: (err as Error).message, details: ctx.cancellationDetails }, 'stopping the action: SIGTERM to its process group');
          proc.stop('abort');
        });
        const r = await proc.done;
        beat.details = () => ({ phase: 'recording', elapsedMs: Date.now() - started });
        if (r.stoppedBy === 'timeout') log.warn({ why: 'timeout' }, 'stopped the action: SIGTERM to its process group');
        stopReason = r.stoppedBy === 'timeout' ? 'timeout' : r.stoppedBy ? 'cancel' : undefined;
        outcome = { code: r.code, signal: r.signal, ...(r.spawnError ? { spawnError: r.spawnError } : {}), ...(r.lostSpawner ? { lostSpawner: true } : {}) };
      } finally {
        // Removed while the end is recorded; awaited with it.
        removal = work.removeAsync();
        removal.catch(() => undefined);
      }
    }

    const durationMs = Date.now() - started;
    const lastLines = await logs.finish();
    let status: RunActionResult['status'] | 'abandoned';
    let remoteWhy: ReturnType<typeof remoteFailure>;
    let error: string | null = null;
    if (outcome.spawnError) {
      status = 'failed';
      error = `could not start ${command}: ${outcome.spawnError.message}`;
    } else if (stopReason === 'cancel' && !requestedCancel(ctx)) {
      // Temporal no longer holds this attempt (its heartbeat timed out on the server, its worker shuts
      // down): not the run's end, and not a cancellation anyone asked for. The workflow decides (lost).
      status = 'abandoned';
      error = `attempt ${attempt} stopped: ${abandonedWhy(ctx)}; its process group was killed`;
    } else if (stopReason === 'cancel') {
      status = 'cancelled';
      error = 'cancelled by request; the process group was killed';
    } else if (stopReason === 'timeout') {
      status = 'timed_out';
      error = `exceeded its timeout of ${action.timeoutSeconds}s; the process group was killed`;
    } else if (outcome.code === 0) {
      status = 'succeeded';
    } else if (target && (remoteWhy = remoteFailure(outcome.code, stderr.tail(), target))) {
      status = 'failed';
      error = remoteWhy.message;
    } else {
      status = 'failed';
      const why =
        outcome.code !== null
          ? `exit code ${outcome.code}`
          : `killed by ${outcome.signal}${outcome.lostSpawner ? ": the worker's spawner process died while it ran" : ''}`;
      const detail = lastLine(stderr.tail()) || lastLine(stdout.tail());
      error = detail ? `${why}: ${detail}` : why;
    }
    const result: RunActionResult = {
      executionId: input.executionId,
      status: status === 'abandoned' ? 'cancelled' : status,
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
    // The worker's own trouble starting it (its spawner died, it ran out of file descriptors) is not the action's: another attempt may do.
    const startTrouble = ['ESPAWNER', 'EMFILE'].includes(outcome.spawnError?.code ?? '');
    const willRetry =
      status === 'failed' && (!outcome.spawnError || startTrouble) && outcome.code !== 2 && (!remoteWhy || remoteWhy.retryable) && attempt < action.maxAttempts;
    const end: ExecutionFinish = {
      id: input.executionId,
      attempt,
      status: willRetry || status === 'abandoned' ? 'running' : status,
      exitCode: outcome.code,
      signal: outcome.signal,
      stdout: stdout.text(),
      stderr: stderr.text(),
      stdoutTruncated: stdout.truncated,
      stderrTruncated: stderr.truncated,
      error,
    };
    await untilDbAnswers('recording the end', async () => {
      try {
        await recordFinish(deps.pool, end, lastLines);
      } catch (err) {
        // Lines the database refuses must not cost the run its end: recorded without them, as a flush would.
        if (isUnreachable(err) || !lastLines.length) throw err;
        log.warn({ err }, 'could not ship output');
        await recordFinish(deps.pool, end);
      }
    });
    // The run is recorded: a folder that cannot be removed is the worker's problem, not the run's.
    await removal?.catch((err: unknown) => log.warn({ err }, 'could not remove the working folder'));
    log.info({ status, outcome: status === 'succeeded' ? 'success' : 'failure', exitCode: outcome.code, durationMs }, 'action finished');

    switch (status) {
      case 'succeeded':
        return result;
      case 'cancelled':
        throw cancelError instanceof CancelledFailure ? cancelError : new CancelledFailure('cancelled');
      case 'abandoned':
        // Paused or reset by an operator: the SDK reports it so. Timed out or unknown on the server: what
        // is thrown is ignored. The worker shuts down: the server takes this as the attempt's end, and the
        // workflow counts a lost worker (workflows/lost-runs.ts), never a failure of the script.
        if (ctx.cancellationDetails?.paused || ctx.cancellationDetails?.reset) throw cancelError;
        throw ApplicationFailure.create({ message: error!, type: ATTEMPT_ABANDONED, nonRetryable: true });
      case 'timed_out':
        throw ApplicationFailure.create({ message: error!, type: 'ActionTimedOut', nonRetryable: true, details: [result] });
      default:
        if (remoteWhy) throw ApplicationFailure.create({ message: error!, type: remoteWhy.type, nonRetryable: !remoteWhy.retryable, details: [result] });
        throw ApplicationFailure.create({
          message: error!,
          // argparse, getopts and most CLIs exit 2 on a usage error: retrying cannot help.
          type: outcome.spawnError && !startTrouble ? 'ActionNotRunnable' : outcome.code === 2 ? 'ActionUsageError' : 'ActionScriptFailed',
          details: [result],
        });
    }
  }
}

/** A run whose worker was lost: marked `lost`, then resolved by an operator (executions.status). */
export function createRecordLostExecution(deps: Pick<ActivityDeps, 'pool'>) {
  return async function recordLostExecution(input: {
    executionId: string;
    status: 'lost' | 'succeeded' | 'failed';
    note: string;
    attempt?: number;
  }): Promise<void> {
    await recordLost(deps.pool, input.executionId, input.status, input.note, input.attempt);
  };
}

export function createRecordExecutionOutcome(deps: Pick<ActivityDeps, 'pool'>) {
  return async function recordExecutionOutcome(
    input: Omit<ExecutionStart, 'id' | 'worker' | 'attempt'> & { executionId: string; status: 'failed' | 'cancelled'; error: string },
  ): Promise<void> {
    await recordOutcomeWithoutStart(deps.pool, { ...input, id: input.executionId });
  };
}
