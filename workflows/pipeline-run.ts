/**
 * A sequence of action steps in one region: the minimal pipeline interpreter. Every step is an
 * activity on the region's own queue; the run is pinned to the steps it was started with.
 */
import { ApplicationFailure, isCancellation, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { PipelineRunInput, PipelineRunResult, RunActionResult } from '../common/types.js';
import { displayCommand, failureReason, recordUnfinished, runActionOptions } from './action-steps.js';

type Activities = ReturnType<typeof createActivities>;

export async function pipelineRun(input: PipelineRunInput): Promise<PipelineRunResult> {
  const results: RunActionResult[] = [];
  const bookkeeping = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 10 }, summary: 'record outcome' });
  for (const [i, step] of input.steps.entries()) {
    const runInput = {
      executionId: step.executionId,
      action: step.action,
      parameters: step.parameters,
      region: input.region,
      actor: input.actor,
      trigger: input.trigger,
      parentId: input.pipelineId,
    };
    setCurrentDetails(`${input.pipeline} on ${input.region}: step ${i + 1}/${input.steps.length} ${step.name}`);
    const acts = proxyActivities<Activities>(runActionOptions(runInput, `${step.name}: ${displayCommand(runInput)}`));
    try {
      results.push(await acts.runAction(runInput));
    } catch (err) {
      const reason = failureReason(err);
      await recordUnfinished(bookkeeping, runInput, isCancellation(err) ? 'cancelled' : 'failed', reason);
      if (isCancellation(err)) throw err;
      setCurrentDetails(`${input.pipeline}: failed at step ${step.name}: ${reason}`);
      throw ApplicationFailure.nonRetryable(`${input.pipeline} failed at step ${i + 1} (${step.name}) on ${input.region}: ${reason}`, 'PipelineFailed');
    }
  }
  setCurrentDetails(`${input.pipeline} on ${input.region}: ${input.steps.length} steps succeeded`);
  return { pipelineId: input.pipelineId, status: 'succeeded', steps: results };
}
