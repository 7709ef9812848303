/**
 * `pipelineRun`: a pipeline file's run (a validated definition: workflows/pipeline-interpreter.ts), or
 * — for the histories recorded before pipelines as code, which must still replay — the old fixed
 * sequence of action steps in one region. The input decides which (no patch needed).
 * `pipelineForEach`: a for_each step's fan-out (workflows/pipeline-for-each.ts).
 */
import { ApplicationFailure, isCancellation, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { PipelineRunInput, PipelineRunResult, RunActionResult } from '../common/types.js';
import type { PipelineRunRequest, PipelineRunState } from '../common/pipeline.js';
import { displayCommand, failureReason, recordUnfinished, runActionOptions } from './action-steps.js';
import { forEach, type ForEachInput, type ForEachResult } from './pipeline-for-each.js';
import { interpret } from './pipeline-interpreter.js';
import { decideStepPatches } from './pipeline-steps.js';

type Activities = ReturnType<typeof createActivities>;

// The last signature is the one clients see (Temporal's typed start/execute take it).
export async function pipelineRun(input: PipelineRunInput): Promise<PipelineRunResult>;
export async function pipelineRun(input: PipelineRunRequest): Promise<PipelineRunState>;
export async function pipelineRun(input: PipelineRunInput | PipelineRunRequest): Promise<PipelineRunResult | PipelineRunState> {
  // A schedule's runs carry no run id of their own: theirs is the workflow id Temporal gave the firing.
  if ('kind' in input && input.kind === 'definition') {
    decideStepPatches();
    return interpret(input.runId ? input : { ...input, runId: workflowInfo().workflowId }, { pipelineRun, pipelineForEach });
  }
  return fixedSequence(input as PipelineRunInput);
}

export async function pipelineForEach(input: ForEachInput): Promise<ForEachResult> {
  decideStepPatches();
  return forEach(input, pipelineRun);
}

/** The fixed sequence of action steps that was pipelineRun before pipeline files: kept for replay. */
async function fixedSequence(input: PipelineRunInput): Promise<PipelineRunResult> {
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
