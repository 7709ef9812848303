/**
 * Pipeline runs:
 *
 *   POST /api/v1/pipelines/runs              files (the pipeline and its sub-pipelines) + inputs → 202, or 400 with every problem
 *   GET  /api/v1/pipelines/runs              recent runs (Temporal visibility: WorkflowType, Pipeline)
 *   GET  /api/v1/pipelines/runs/:id          steps with status, outputs and timings (the pipelineState query)
 *   POST /api/v1/pipelines/runs/:id/cancel   cancel
 *   POST /api/v1/pipelines/runs/:id/decide   approve or reject a waiting approval step (an update; four eyes)
 *   POST /api/v1/pipelines/runs/:id/rerun    a new run from a step, reusing the recorded outputs of the others
 *
 * A run is validated completely before it starts and pinned: the definitions and the actions they name
 * (as the catalog has them now) are the workflow's input.
 */
import { Router } from 'express';
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type {
  PipelineDecideRequest,
  PipelineRunListResponse,
  PipelineRunStartRequest,
  PipelineRunStartResponse,
  PipelineRerunRequest,
} from '../common/api-types.js';
import { SearchAttributes } from '../common/constants.js';
import type { PipelineDef, PipelineRunRequest, PipelineRunState, StepDef, StepResult } from '../common/pipeline.js';
import { forEachProgressQuery, pipelineDecideUpdate, pipelineStateQuery } from '../workflows/definitions.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { checkScopes, newRunId, pipelineRequests, startRun } from './pipeline-requests.js';

/** Steps a re-run from `from` runs again: it and everything that depends on it, transitively. */
export function downstreamOf(def: PipelineDef, from: string): Set<string> {
  const out = new Set([from]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of def.steps) if (!out.has(s.id) && (s.needs ?? []).some((n) => out.has(n)) && out.add(s.id)) grew = true;
  }
  return out;
}

export function pipelinesRouter({ client, pool, config, http }: RouterDeps): Router {
  const router = Router();
  const { build } = pipelineRequests({ client, pool, config });
  const handle = async (id: string) => {
    const h = client.workflow.getHandle(id);
    try {
      const d = await h.describe();
      if (d.type !== 'pipelineRun') throw new ApiError(404, 'not_a_pipeline_run', `${id} is a ${d.type}, not a pipeline run.`);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new ApiError(404, 'run_not_found', `no pipeline run ${JSON.stringify(id)}; GET /api/v1/pipelines/runs lists them.`);
      throw err;
    }
    return h;
  };

  route(router, 'POST /api/v1/pipelines/runs', http, async (req, res) => {
    const p = principal(req);
    const body = req.body as PipelineRunStartRequest;
    const { run, files, source, inputs, prepared } = await build(p, body);
    const runId = run.runId;
    req.audit = {
      target: runId,
      parameters: {
        pipeline: prepared.definition.name,
        files: files.map((f) => f.path),
        inputs: Object.keys(inputs.values),
        ...(body.secrets ? { secrets: Object.keys(body.secrets) } : {}),
        ...(source ? { component: body.component, commit: source.commit } : {}),
      },
    };
    await startRun(client, run, body.trigger ?? 'api');
    res
      .status(202)
      .json({ id: runId, pipeline: prepared.definition.name, steps: prepared.definition.steps.map((s) => s.id) } satisfies PipelineRunStartResponse);
  });

  route(router, 'GET /api/v1/pipelines/runs', http, async (req, res) => {
    const { pipeline, limit } = req.query as { pipeline?: string; limit?: string };
    const max = Math.min(Number(limit ?? 50), 500);
    const query = `WorkflowType = 'pipelineRun'${pipeline ? ` AND Pipeline = '${pipeline.replace(/'/g, '')}'` : ''}`;
    const runs: PipelineRunListResponse['runs'] = [];
    for await (const w of client.workflow.list({ query })) {
      // Sub-pipelines and for_each fan-outs (<run>.<step>) are part of their run; runs a push started are listed.
      if (w.parentExecution && w.workflowId.startsWith(`${w.parentExecution.workflowId}.`)) continue;
      runs.push({
        id: w.workflowId,
        pipeline: w.typedSearchAttributes.get(SearchAttributes.Pipeline) ?? '',
        actor: w.typedSearchAttributes.get(SearchAttributes.Actor) ?? '',
        status: w.status.name.toLowerCase(),
        startedAt: w.startTime.toISOString(),
        closedAt: w.closeTime?.toISOString() ?? null,
      });
      if (runs.length >= max) break;
    }
    res.json({ runs } satisfies PipelineRunListResponse);
  });

  route(router, 'GET /api/v1/pipelines/runs/:id', http, async (req, res) => {
    const h = await handle(req.params.id);
    const d = await h.describe();
    const state = (await closedState(h, d.status.name)) ?? (await withItemCounts(client, await h.query(pipelineStateQuery)));
    res.json({ ...state, workflowStatus: d.status.name.toLowerCase(), startedAt: d.startTime.toISOString(), closedAt: d.closeTime?.toISOString() ?? null });
  });

  route(router, 'POST /api/v1/pipelines/runs/:id/cancel', http, async (req, res) => {
    const h = await handle(req.params.id);
    req.audit = { target: req.params.id, parameters: {} };
    await h.cancel();
    res.status(202).json({ id: req.params.id, cancelRequested: true });
  });

  route(router, 'POST /api/v1/pipelines/runs/:id/decide', http, async (req, res) => {
    const p = principal(req);
    const body = req.body as PipelineDecideRequest;
    const h = await handle(req.params.id);
    req.audit = { target: `${req.params.id}#${body.step}`, parameters: { approve: body.approve, ...(body.reason ? { reason: body.reason } : {}) } };
    try {
      const r = await h.executeUpdate(pipelineDecideUpdate, {
        args: [{ step: body.step, actor: p.actor, approve: body.approve, ...(body.reason ? { reason: body.reason } : {}) }],
      });
      res.json(r);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ApiError(409, 'decision_refused', err.cause?.message ?? err.message);
      throw err;
    }
  });

  route(router, 'POST /api/v1/pipelines/runs/:id/rerun', http, async (req, res) => {
    const p = principal(req);
    const { from } = req.body as PipelineRerunRequest;
    const h = await handle(req.params.id);
    const history = await h.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    // The run's input as recorded: the pinned definitions and actions (decrypted with the client's codec).
    const earlier = started?.input?.payloads
      ? await decodeFromPayloadsAtIndex<PipelineRunRequest>(client.options.loadedDataConverter, 0, started.input.payloads)
      : undefined;
    if (!earlier || earlier.kind !== 'definition')
      throw new ApiError(409, 'not_rerunnable', `${req.params.id} is not a pipeline file's run; it cannot be re-run from a step.`);
    if (!earlier.definition.steps.some((s: StepDef) => s.id === from))
      throw new ApiError(
        400,
        'unknown_step',
        `${earlier.definition.name} has no step ${JSON.stringify(from)}; its steps: ${earlier.definition.steps.map((s) => s.id).join(', ')}.`,
      );
    checkScopes(p, earlier.actions);
    const state: PipelineRunState = await h.query(pipelineStateQuery);
    const again = downstreamOf(earlier.definition, from);
    const reuse: Record<string, StepResult> = {};
    for (const s of state.steps) if (!again.has(s.id) && (s.status === 'succeeded' || s.status === 'reused')) reuse[s.id] = s;
    const runId = newRunId(earlier.definition.name);
    req.audit = { target: runId, parameters: { rerunOf: req.params.id, from, reused: Object.keys(reuse) } };
    await startRun(client, { ...earlier, runId, actor: p.actor, reuse, rerunOf: req.params.id, trigger: { kind: 'rerun', of: req.params.id, from } }, 'rerun');
    res.status(202).json({
      id: runId,
      pipeline: earlier.definition.name,
      steps: earlier.definition.steps.map((s) => s.id),
      rerunOf: req.params.id,
      reused: Object.keys(reuse),
    });
  });
  return router;
}

function isState(v: unknown): v is PipelineRunState {
  return typeof v === 'object' && v !== null && Array.isArray((v as PipelineRunState).steps) && typeof (v as PipelineRunState).runId === 'string';
}

/**
 * A closed run's state from its close event: its result, or the details of its PipelineFailed failure.
 * A query of a closed workflow makes a worker replay its whole history, which on a busy fleet took 6 s
 * a call; a cancelled run (or an older one) still gets the query.
 */
/** How long a view waits for a fan-out's item counts. */
const ITEM_COUNTS_WAIT_MS = 3000;

/** A running run's for_each steps with their items done so far, asked of each fan-out (its child workflow); left as they are if it does not answer. */
async function withItemCounts(client: Client, state: PipelineRunState): Promise<PipelineRunState> {
  await Promise.all(
    state.steps
      .filter((s) => s.status === 'running' && s.items)
      .map(async (s) => {
        try {
          const fanOut = client.workflow.getHandle(`${state.runId}.${s.id}`);
          s.items = await client.connection.withDeadline(Date.now() + ITEM_COUNTS_WAIT_MS, () => fanOut.query(forEachProgressQuery));
        } catch {
          // Not started yet, or its worker slow to answer: the total alone, not a slower answer.
        }
      }),
  );
  return state;
}

async function closedState(h: WorkflowHandle, status: string): Promise<PipelineRunState | undefined> {
  if (status !== 'COMPLETED' && status !== 'FAILED') return undefined;
  try {
    const r: unknown = await h.result();
    return isState(r) ? r : undefined;
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'PipelineFailed') {
      const d: unknown = err.cause.details?.[0];
      return isState(d) ? d : undefined;
    }
    return undefined;
  }
}
