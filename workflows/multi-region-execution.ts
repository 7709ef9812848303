/**
 * The same action in several regions at once. Runs on the orchestrator's queue and starts one
 * actionExecution child per region on that region's queue, where the region's workers run it.
 */
import { ApplicationFailure, ParentClosePolicy, executeChild, setCurrentDetails } from '@temporalio/workflow';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import type { MultiRegionInput, RunActionResult } from '../common/types.js';
import { actionExecution } from './action-execution.js';

export interface MultiRegionResult {
  executionId: string;
  regions: Record<string, { status: 'succeeded' | 'failed'; result?: RunActionResult; error?: string }>;
}

export async function multiRegionExecution(input: MultiRegionInput): Promise<MultiRegionResult> {
  setCurrentDetails(`running ${input.runs[0]?.action.name ?? '?'} in ${input.regions.join(', ')}`);
  const settled = await Promise.allSettled(
    input.runs.map((run) =>
      executeChild(actionExecution, {
        args: [run],
        workflowId: run.executionId,
        taskQueue: regionTaskQueue(run.region),
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${run.action.name} on ${run.region}`,
        typedSearchAttributes: [
          { key: SearchAttributes.Action, value: run.action.name },
          { key: SearchAttributes.Region, value: run.region },
          { key: SearchAttributes.Trigger, value: run.trigger },
          { key: SearchAttributes.Actor, value: run.actor },
        ],
      }),
    ),
  );
  const out: MultiRegionResult = { executionId: input.executionId, regions: {} };
  settled.forEach((s, i) => {
    const region = input.runs[i].region;
    out.regions[region] =
      s.status === 'fulfilled'
        ? { status: 'succeeded', result: s.value }
        : { status: 'failed', error: (s.reason as Error & { cause?: Error }).cause?.message ?? String(s.reason) };
  });
  const failed = Object.entries(out.regions)
    .filter(([, r]) => r.status === 'failed')
    .map(([r]) => r);
  setCurrentDetails(failed.length ? `failed in ${failed.join(', ')}` : `succeeded in ${input.regions.join(', ')}`);
  if (failed.length)
    throw ApplicationFailure.nonRetryable(`failed in ${failed.join(', ')}: ${failed.map((r) => out.regions[r].error).join('; ')}`, 'ActionFailed', out);
  return out;
}
