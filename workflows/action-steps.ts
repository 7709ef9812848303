/**
 * Helpers shared by the workflows that run actions (actionExecution, pipelineRun, regionDeploy …):
 * activity options, display, failure reasons, outcome bookkeeping. Deterministic: no I/O, no Node APIs.
 */
import { ActivityCancellationType, ActivityFailure, CancellationScope, ChildWorkflowFailure, workflowInfo } from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { displayArgv, maskArgv, maskParameters } from '../common/argv.js';
import { ACTION_HEARTBEAT_TIMEOUT_SECONDS, PACK_ENV_BUILD_SECONDS } from '../common/constants.js';
import type { RunActionInput } from '../common/types.js';

type Activities = ReturnType<typeof createActivities>;

/** Error types the activity raises that no retry can fix. */
export const NON_RETRYABLE = ['ActionUsageError', 'ActionTimedOut', 'ActionNotRunnable'];

export function runActionOptions(input: RunActionInput, summary: string): ActivityOptions {
  return {
    // The activity kills the script at the action's own timeout; this is the safety net above it.
    // A StackStorm python-script run may first build its pack's Python environment (lib/pack-venv.ts).
    startToCloseTimeout: `${input.action.timeoutSeconds + 30 + (input.action.runner === 'st2-python' ? PACK_ENV_BUILD_SECONDS : 0)}s`,
    // The activity heartbeats every second and the workers send them at least every second (a
    // cancellation reaches the script within about a second). The timeout is how long a worker may be
    // silent: a lost worker is noticed after it, and a Temporal outage shorter than it loses nothing.
    heartbeatTimeout: `${ACTION_HEARTBEAT_TIMEOUT_SECONDS}s`,
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
