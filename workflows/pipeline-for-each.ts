/**
 * A for_each step's fan-out, as a child workflow of its pipeline: the items run `concurrency` at a
 * time (an action per item, or a sub-pipeline per item), and the workflow continues as new between
 * batches when its history grows, so a fan-out over thousands of items keeps every history small.
 */
import { continueAsNew, isCancellation, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import { forEachProgressQuery } from './definitions.js';
import type { PipelineRunRequest, PipelineRunState, StepDef } from '../common/pipeline.js';
import { evaluateValue, type Contexts } from '../common/pipeline-expressions.js';
import { failureReason } from './action-steps.js';
import { throwIfCancelledBeforeContinueAsNew } from './continue-as-new.js';
import { child, listOf, runActionStep, withDefaults } from './pipeline-steps.js';

/** Items between two looks at the history's length. */
const BATCH = 500;
/** Continue as new past this many events (the server's own suggestion counts too). */
const HISTORY_LIMIT = 8000;
const MAX_FAILURES_KEPT = 20;

export interface ForEachInput {
  req: Omit<PipelineRunRequest, 'reuse' | 'rerunOf'>;
  step: StepDef;
  /** The contexts the step's expressions see, but `item`. */
  ctx: Contexts;
  /** The items still to run; `offset` is the index of the first in the whole list. */
  items: unknown[];
  offset: number;
  total: number;
  concurrency: number;
  succeeded: number;
  failed: number;
  failures: { index: number; item: unknown; error: string }[];
  /** Continue-as-new generations so far (for the Web UI's details). */
  generation: number;
}

export interface ForEachResult {
  total: number;
  succeeded: number;
  failed: number;
  failures: { index: number; item: unknown; error: string }[];
}

/** The pipelineRun workflow function, passed in by pipeline-run.ts (which defines both; no import cycle). */
export type PipelineRunFn = (req: PipelineRunRequest) => Promise<PipelineRunState>;

/** The body of the `pipelineForEach` workflow (workflows/pipeline-run.ts). */
export async function forEach(input: ForEachInput, pipelineRun: PipelineRunFn): Promise<ForEachResult> {
  const { req, step, ctx } = input;
  let { succeeded, failed } = input;
  const failures = [...input.failures];
  let at = 0;
  // Read by the API for a running step's item counts (a query: nothing in the history).
  setHandler(forEachProgressQuery, () => ({ total: input.total, succeeded, failed }));
  const runItem = async (item: unknown, index: number): Promise<void> => {
    const itemCtx = { ...ctx, item };
    try {
      if (step.pipeline !== undefined) {
        const def = req.pipelines[step.pipeline];
        const inputs = withDefaults(def, evaluateValue(step.with ?? {}, itemCtx) as Record<string, unknown>);
        const id = `${req.runId}.${step.id}.${index}`;
        await child<PipelineRunState>(
          pipelineRun,
          id,
          { ...req, runId: id, definition: def, inputs, depth: (req.depth ?? 0) + 1 },
          `${step.id}[${index}]: pipeline ${def.name}`,
          req.defaultRegion,
        );
      } else {
        const regions = step.region !== undefined ? [String(evaluateValue(step.region, itemCtx))] : [req.defaultRegion];
        const parameters = evaluateValue(step.with ?? {}, itemCtx) as Record<string, unknown>;
        await runActionStep(req, step, parameters, regions[0], `${req.runId}.${step.id}.${index}`);
      }
      succeeded++;
    } catch (err) {
      if (isCancellation(err)) throw err;
      failed++;
      if (failures.length < MAX_FAILURES_KEPT) failures.push({ index, item, error: failureReason(err) });
    }
    setCurrentDetails(`${step.id}: ${succeeded + failed}/${input.total} items done (${failed} failed), ${input.concurrency} at a time`);
  };

  while (at < input.items.length) {
    const batch = input.items.slice(at, at + BATCH);
    const base = input.offset + at;
    let next = 0;
    const lane = async () => {
      while (next < batch.length) {
        const i = next++;
        await runItem(batch[i], base + i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(input.concurrency, batch.length) }, lane));
    at += batch.length;
    const info = workflowInfo();
    if (at < input.items.length && (info.continueAsNewSuggested || info.historyLength > HISTORY_LIMIT)) {
      throwIfCancelledBeforeContinueAsNew();
      await continueAsNew<(i: ForEachInput) => Promise<ForEachResult>>({
        ...input,
        items: input.items.slice(at),
        offset: input.offset + at,
        succeeded,
        failed,
        failures,
        generation: input.generation + 1,
      });
    }
  }
  return { total: input.total, succeeded, failed, failures };
}

/** The items of a for_each step, evaluated. */
export function forEachItems(step: StepDef, ctx: Contexts): unknown[] {
  return listOf(step.for_each, ctx, `steps.${step.id}.for_each`);
}
