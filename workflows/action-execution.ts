/**
 * One action run in one region. Runs on the region's task queue; its activity runs on the same
 * queue, so the server can hand it straight back to this worker (eager dispatch).
 * Deterministic: no I/O, no Node APIs.
 */
import { ActivityFailure, ApplicationFailure, isCancellation, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { ActionExecutionInput, RunActionResult } from '../common/types.js';
import { displayCommand, failureReason, recordUnfinished, runActionOptions } from './action-steps.js';

type Activities = ReturnType<typeof createActivities>;

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
