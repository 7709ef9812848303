/**
 * One action run in one region. Runs on the region's task queue; its activity runs on the same
 * queue, so the server can hand it straight back to this worker (eager dispatch).
 * Deterministic: no I/O, no Node APIs.
 *
 * Since the `lost-worker` patch the workflow, not Temporal, retries (workflows/lost-runs.ts): an
 * idempotent action runs again on another worker of the region when its worker is lost; any other run
 * is `lost` and waits for an operator's decision.
 */
import { ActivityFailure, ApplicationFailure, isCancellation, patched, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { ActionExecutionInput, RunActionResult } from '../common/types.js';
import { NON_RETRYABLE, displayCommand, failureReason, recordUnfinished, runActionOptions } from './action-steps.js';
import { runLosable } from './lost-runs.js';

type Activities = ReturnType<typeof createActivities>;

export async function actionExecution(input: ActionExecutionInput): Promise<RunActionResult> {
  if (!patched('lost-worker')) return legacyActionExecution(input);
  const summary = input.summary ?? `${input.action.name} on ${input.region}`;
  const shown = displayCommand(input);
  const base = runActionOptions(input, `run ${shown}`);
  const acts = proxyActivities<Activities>({ ...base, retry: { ...base.retry, maximumAttempts: 1 } });
  const bookkeeping = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 10 }, summary: 'record outcome' });
  try {
    const result = await runLosable<RunActionResult>({
      executionId: input.executionId,
      summary,
      running: (attempt) => `${summary}: running \`${shown}\`${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
      idempotent: input.action.idempotent === true,
      maxAttempts: input.action.maxAttempts,
      nonRetryable: NON_RETRYABLE,
      attempt: (attempt) => acts.runAction({ ...input, attempt }),
      recordLost: (status, note, attempt) => bookkeeping.recordLostExecution({ executionId: input.executionId, status, note, attempt }),
      markedSucceeded: () => ({
        executionId: input.executionId,
        status: 'succeeded',
        exitCode: null,
        signal: null,
        stdoutTail: '',
        stderrTail: '',
        durationMs: 0,
        worker: '',
        region: input.region,
      }),
      region: input.region,
    });
    if (result.durationMs > 0) setCurrentDetails(`${summary}: succeeded in ${result.durationMs} ms`);
    return result;
  } catch (err) {
    if (isCancellation(err)) return cancelled(bookkeeping, input, summary, err);
    if (err instanceof ApplicationFailure && err.type === 'ActionLost') throw err; // recorded already
    return failed(bookkeeping, input, summary, err, failureReason(err));
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
