/**
 * One action run in one region. Runs on the region's task queue; its activity runs on the same
 * queue, so the server can hand it straight back to this worker (eager dispatch).
 * Deterministic: no I/O, no Node APIs.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { displayArgv, maskArgv, maskParameters } from '../common/argv.js';
import type { ActionExecutionInput, RunActionInput, RunActionResult } from '../common/types.js';

type Activities = ReturnType<typeof createActivities>;

/** Error types the activity raises that no retry can fix. */
export const NON_RETRYABLE = ['ActionUsageError', 'ActionTimedOut', 'ActionNotRunnable'];

export function runActionOptions(input: RunActionInput, summary: string): ActivityOptions {
  return {
    // The activity kills the script at the action's own timeout; this is the safety net above it.
    startToCloseTimeout: `${input.action.timeoutSeconds + 30}s`,
    // The activity heartbeats every second; the server hears at most every 0.8 × this, which bounds
    // how long a cancellation takes to reach the script.
    heartbeatTimeout: '10s',
    // "cancelled" means the process group is gone: wait for the activity to confirm it.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts: input.action.maxAttempts,
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
    summary,
  };
}

export function displayCommand(input: RunActionInput): string {
  return displayArgv(maskArgv(input.action, input.parameters));
}

/** Why a run failed, in one line, from an activity failure. */
export function failureReason(err: unknown): string {
  if ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause) return err.cause.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Records the outcome when the activity could not (cancelled before it started, worker lost). */
export async function recordUnfinished(
  acts: Pick<Activities, 'recordExecutionOutcome'>,
  input: RunActionInput,
  status: 'failed' | 'cancelled',
  error: string,
): Promise<void> {
  await CancellationScope.nonCancellable(() =>
    acts.recordExecutionOutcome({
      executionId: input.executionId,
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().runId,
      ...(input.parentId ? { parentId: input.parentId } : {}),
      action: input.action.name,
      actionVersion: input.action.version,
      region: input.region,
      parameters: maskParameters(input.action, input.parameters),
      argv: maskArgv(input.action, input.parameters),
      actor: input.actor,
      trigger: input.trigger,
      status,
      error,
    }),
  );
}

export async function actionExecution(input: ActionExecutionInput): Promise<RunActionResult> {
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
    if (isCancellation(err)) {
      setCurrentDetails(`${summary}: cancelled`);
      await recordUnfinished(bookkeeping, input, 'cancelled', 'cancelled by request');
      throw err;
    }
    setCurrentDetails(`${summary}: failed: ${reason}`);
    await recordUnfinished(bookkeeping, input, 'failed', reason);
    const details = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.details ?? []) : [];
    throw ApplicationFailure.nonRetryable(`${input.action.name} failed on ${input.region}: ${reason}`, 'ActionFailed', ...details);
  }
}
