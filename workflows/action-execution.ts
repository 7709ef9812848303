/**
 * One action run in one region. Runs on the region's task queue; its activity runs on the same
 * queue, so the server can hand it straight back to this worker (eager dispatch).
 * Deterministic: no I/O, no Node APIs.
 *
 * A lost worker (the activity's heartbeat stops: the worker died; its script's process group died
 * with it, lib/spawn.ts) is not a failure of the script, and the script may or may not have done its
 * work. Since the `lost-worker` patch the workflow, not Temporal, retries, so a lost worker is never
 * retried blindly:
 *   - an action declared idempotent is run again on another worker of the region (up to 5 times);
 *   - any other run is `lost` and waits for an operator's decision (the `resolveLost` update:
 *     retry, succeeded or failed, with who decided), shown in its current details.
 * Failures of the script itself are retried as the action declares (maxAttempts, backoff 1 s ×2).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { ActionExecutionInput, RunActionResult } from '../common/types.js';
import { NON_RETRYABLE, displayCommand, failureReason, recordUnfinished, runActionOptions } from './action-steps.js';
import { resolveLostUpdate, type LostDecision } from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

/** Lost workers an idempotent run survives before it fails. */
const MAX_LOST_RETRIES = 5;

/** The activity's heartbeat stopped: the worker running it is gone. */
function workerLost(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'HEARTBEAT';
}

export async function actionExecution(input: ActionExecutionInput): Promise<RunActionResult> {
  if (!patched('lost-worker')) return legacyActionExecution(input);
  const summary = input.summary ?? `${input.action.name} on ${input.region}`;
  const shown = displayCommand(input);
  const base = runActionOptions(input, `run ${shown}`);
  const acts = proxyActivities<Activities>({ ...base, retry: { ...base.retry, maximumAttempts: 1 } });
  const bookkeeping = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 10 }, summary: 'record outcome' });
  let waiting = false;
  let decision: LostDecision | undefined;
  setHandler(
    resolveLostUpdate,
    (d) => {
      decision = d;
      return { decision: d.decision, decidedBy: d.actor };
    },
    {
      validator: (_d: LostDecision) => {
        if (!waiting) throw new Error(`${input.executionId} is not lost: only a run whose worker was lost waits for a decision.`);
      },
    },
  );
  let attempt = 0;
  let lost = 0;
  for (;;) {
    attempt++;
    setCurrentDetails(`${summary}: running \`${shown}\`${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
    try {
      const result = await acts.runAction({ ...input, attempt });
      setCurrentDetails(`${summary}: succeeded in ${result.durationMs} ms`);
      return result;
    } catch (err) {
      const reason = failureReason(err);
      if (isCancellation(err)) return cancelled(bookkeeping, input, summary, err);
      if (workerLost(err)) {
        lost++;
        if (input.action.idempotent && lost <= MAX_LOST_RETRIES) {
          setCurrentDetails(`${summary}: the worker running it was lost; idempotent, so it runs again on another worker of ${input.region}`);
          continue;
        }
        const note = `worker lost during attempt ${attempt} (its heartbeat stopped); the script may or may not have done its work`;
        await bookkeeping.recordLostExecution({ executionId: input.executionId, status: 'lost', note });
        setCurrentDetails(`${summary}: LOST — ${note}. Waiting for an operator: stackwire execution resolve ${input.executionId} retry|succeeded|failed`);
        waiting = true;
        decision = undefined;
        await condition(() => decision !== undefined);
        waiting = false;
        const d = decision!;
        const by = `${d.decision === 'retry' ? 'retried' : `marked ${d.decision}`} by ${d.actor}${d.reason ? `: ${d.reason}` : ''}`;
        if (d.decision === 'retry') continue;
        await bookkeeping.recordLostExecution({ executionId: input.executionId, status: d.decision, note: by });
        setCurrentDetails(`${summary}: lost, ${by}`);
        if (d.decision === 'succeeded')
          return {
            executionId: input.executionId,
            status: 'succeeded',
            exitCode: null,
            signal: null,
            stdoutTail: '',
            stderrTail: '',
            durationMs: 0,
            worker: '',
            region: input.region,
          };
        throw ApplicationFailure.nonRetryable(`${input.action.name} on ${input.region}: ${note}; ${by}`, 'ActionLost');
      }
      const type = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
      if (attempt < input.action.maxAttempts && !(type && NON_RETRYABLE.includes(type))) {
        setCurrentDetails(`${summary}: attempt ${attempt} failed (${reason}); retrying`);
        await sleep(Math.min(60_000, 1000 * 2 ** (attempt - 1)));
        continue;
      }
      return failed(bookkeeping, input, summary, err, reason);
    }
  }
}

type Bookkeeping = Pick<Activities, 'recordExecutionOutcome'>;

/** A cancelled run: recorded, and the cancellation goes on up. */
async function cancelled(bookkeeping: Bookkeeping, input: ActionExecutionInput, summary: string, err: unknown): Promise<never> {
  setCurrentDetails(`${summary}: cancelled`);
  await recordUnfinished(bookkeeping, input, 'cancelled', 'cancelled by request');
  throw err;
}

/** A failed run: recorded, and failed for good (its result, when the script gave one, in the details). */
async function failed(bookkeeping: Bookkeeping, input: ActionExecutionInput, summary: string, err: unknown, reason: string): Promise<never> {
  setCurrentDetails(`${summary}: failed: ${reason}`);
  await recordUnfinished(bookkeeping, input, 'failed', reason);
  const details = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.details ?? []) : [];
  throw ApplicationFailure.nonRetryable(`${input.action.name} failed on ${input.region}: ${reason}`, 'ActionFailed', ...details);
}

/** Before the `lost-worker` patch: Temporal retried the activity, a lost worker included. */
async function legacyActionExecution(input: ActionExecutionInput): Promise<RunActionResult> {
  const summary = input.summary ?? `${input.action.name} on ${input.region}`;
  const acts = proxyActivities<Activities>(runActionOptions(input, `run ${displayCommand(input)}`));
  const bookkeeping = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 10 }, summary: 'record outcome' });
  setCurrentDetails(`${summary}: running \`${displayCommand(input)}\``);
  try {
    const result = await acts.runAction(input);
    setCurrentDetails(`${summary}: succeeded in ${result.durationMs} ms`);
    return result;
  } catch (err) {
    const reason = failureReason(err);
    if (isCancellation(err)) return cancelled(bookkeeping, input, summary, err);
    return failed(bookkeeping, input, summary, err, reason);
  }
}
