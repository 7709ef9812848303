/**
 * What one pipeline step does, by kind: an action (an activity on its region's queue, or a local
 * activity for short idempotent ones on the workflow's own region), an approval (an update decides it),
 * a sleep, a sub-pipeline (a child `pipelineRun`), a for_each (a child `pipelineForEach`). Deterministic.
 */
import { ApplicationFailure, executeChild, type LocalActivityOptions, proxyActivities, proxyLocalActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { regionTaskQueue } from '../common/constants.js';
import { durationSeconds, type PipelineDef, type PipelineRunRequest, type StepDef } from '../common/pipeline.js';
import { evaluateValue, type Contexts } from '../common/pipeline-expressions.js';
import type { RunActionInput, RunActionResult } from '../common/types.js';
import { displayCommand, runActionOptions } from './action-steps.js';

type Activities = ReturnType<typeof createActivities>;

/** A step's outputs from its script: the JSON object on its last line of output, else the output's tail. */
export function actionOutputs(r: RunActionResult): Record<string, unknown> {
  const lines = r.stdoutTail.trimEnd().split('\n');
  const last = lines[lines.length - 1]?.trim() ?? '';
  if (last.startsWith('{') && last.endsWith('}')) {
    try {
      const v = JSON.parse(last) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not JSON: the tail below
    }
  }
  return { stdout: r.stdoutTail.trimEnd() };
}

/** Seconds of a duration the validator accepted; a non-retryable failure naming it otherwise. */
export function seconds(v: string | number, what: string): number {
  const s = durationSeconds(v);
  if (s === undefined) throw ApplicationFailure.nonRetryable(`${what}: ${JSON.stringify(v)} is not a duration (e.g. 30s, 5m, 2h)`, 'PipelineInvalid');
  return s;
}

/** A value that must be a list (regions, for_each), evaluated. */
export function listOf(v: unknown, ctx: Contexts, what: string): unknown[] {
  const out = typeof v === 'string' ? evaluateValue(v, ctx) : v;
  if (!Array.isArray(out)) throw ApplicationFailure.nonRetryable(`${what} is not a list (it is ${JSON.stringify(out)?.slice(0, 200)})`, 'PipelineInvalid');
  return out;
}

/** Inputs for a (sub-)pipeline: given values, defaults for the rest, a clear failure for a missing required one. */
export function withDefaults(def: PipelineDef, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...given };
  for (const [name, spec] of Object.entries(def.inputs ?? {})) {
    if (out[name] === undefined && spec.default !== undefined) out[name] = spec.default;
    if (out[name] === undefined && spec.required)
      throw ApplicationFailure.nonRetryable(
        `pipeline ${def.name}: input ${name} is required${spec.description ? ` (${spec.description})` : ''}`,
        'PipelineInvalid',
      );
  }
  return out;
}

/** Runs one action for a step in one region; the step's retry and timeout override the action's. */
export async function runActionStep(
  req: Pick<PipelineRunRequest, 'actions' | 'actor' | 'runId' | 'defaultRegion' | 'definition'>,
  s: StepDef,
  parameters: Record<string, unknown>,
  region: string,
  executionId: string,
): Promise<Record<string, unknown>> {
  const spec = req.actions[s.action!];
  if (!spec) throw ApplicationFailure.nonRetryable(`action ${s.action} was not pinned with the run`, 'PipelineInvalid');
  const timeoutSeconds = s.timeout !== undefined ? seconds(s.timeout, `steps.${s.id}.timeout`) : spec.timeoutSeconds;
  const action = { ...spec, timeoutSeconds: Math.max(1, Math.round(timeoutSeconds)), maxAttempts: s.retry?.attempts ?? spec.maxAttempts };
  const input: RunActionInput = {
    executionId,
    action,
    parameters,
    region,
    actor: req.actor,
    trigger: `pipeline:${req.definition.name}`,
    parentId: req.runId,
    validate: true,
  };
  const opts = runActionOptions(input, `${s.id}: ${displayCommand(input)}`);
  if (s.retry?.backoff !== undefined) opts.retry = { ...opts.retry, initialInterval: `${Math.max(0.01, s.retry.backoff)}s` };
  // Short idempotent steps in the workflow's own region: local activities, no server round trip each (README: fast short steps).
  const local = spec.idempotent === true && timeoutSeconds <= 30 && regionTaskQueue(region) === workflowInfo().taskQueue;
  const localOpts: LocalActivityOptions = { startToCloseTimeout: opts.startToCloseTimeout ?? '60s', ...(opts.retry ? { retry: opts.retry } : {}) };
  const acts = local ? proxyLocalActivities<Activities>(localOpts) : proxyActivities<Activities>({ ...opts, taskQueue: regionTaskQueue(region) });
  return actionOutputs(await acts.runAction(input));
}

/** An approval step: waits for a decision (the `decideStep` update) until its deadline. */
export async function awaitDecision(
  s: StepDef,
  wait: (timeoutMs: number) => Promise<{ actor: string; approve: boolean; reason?: string } | undefined>,
): Promise<{ outputs: Record<string, unknown>; decidedBy: string }> {
  const deadline = seconds(s.approval!.deadline, `steps.${s.id}.approval.deadline`);
  const d = await wait(deadline * 1000);
  if (!d) throw ApplicationFailure.nonRetryable(`no decision within ${s.approval!.deadline}`, 'ApprovalTimedOut');
  if (!d.approve) throw ApplicationFailure.nonRetryable(`rejected by ${d.actor}${d.reason ? `: ${d.reason}` : ''}`, 'ApprovalRejected');
  return { outputs: { approved_by: d.actor }, decidedBy: d.actor };
}

export async function sleepStep(s: StepDef): Promise<Record<string, unknown>> {
  await sleep(seconds(s.sleep!, `steps.${s.id}.sleep`) * 1000);
  return {};
}

/** A built-in kind that pipelines cannot run yet: a clear failure, not a silent success. */
export function notYet(kind: string, s: StepDef): never {
  throw ApplicationFailure.nonRetryable(
    `steps.${s.id}: the built-in "${kind}" is not available in pipelines yet; run an action that does it, or use \`stackwire ${kind === 'release' ? 'release' : 'deploy'}\``,
    'NotImplemented',
  );
}

/** Runs a child workflow with a summary for the Web UI; its failure's cause is the step's error. */
export async function child<T>(workflow: (...args: never[]) => Promise<T>, workflowId: string, arg: unknown, summary: string): Promise<T> {
  return executeChild(workflow as (a: unknown) => Promise<T>, { workflowId, args: [arg], taskQueue: workflowInfo().taskQueue, staticSummary: summary });
}
