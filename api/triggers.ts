/**
 * Trigger instances and traces:
 *   GET /api/v1/triggers[?type=&source=&limit=]   recent instances: what matched, what started
 *   GET /api/v1/triggers/:id                      one
 *   GET /api/v1/traces/:id                        from a trigger instance or a run id: the event, the rules
 *                                                 it matched and the runs it started (and theirs), with
 *                                                 their state read from Temporal now
 * A run no trigger instance started (an operator's, a schedule's) traces to its origin: the Trigger,
 * Actor and TemporalScheduledById search attributes.
 */
import { Router } from 'express';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { TraceResponse, TraceRun, TriggerListResponse, TriggerRun } from '../common/api-types.js';
import { SearchAttributes } from '../common/constants.js';
import { getTrigger, listTriggers, triggerOfRun } from '../db/triggers.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { route } from './http.js';

const ScheduledBy = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
/** Children listed per run at most (a push rarely starts more). */
const MAX_CHILDREN = 50;

async function describe(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** A run's state now, and for a push, the pipeline runs it started. */
async function traceRun(client: Client, r: TriggerRun, depth = 0): Promise<TraceRun> {
  if (r.error) return { ...r, status: 'NOT_STARTED' };
  const d = await describe(client, r.workflowId);
  if (!d) return { ...r, status: 'NOT_FOUND' };
  const out: TraceRun = {
    ...r,
    status: d.status.name,
    type: d.type,
    startTime: d.startTime.toISOString(),
    ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
  };
  if (d.type === 'githubPush' && d.status.name === 'COMPLETED' && depth === 0) {
    const result = (await client.workflow.getHandle(r.workflowId).result()) as { started?: string[] };
    out.children = await Promise.all(
      (result.started ?? []).slice(0, MAX_CHILDREN).map((id) => traceRun(client, { workflowId: id, kind: 'pipeline' }, depth + 1)),
    );
  }
  return out;
}

export function triggersRouter({ client, pool, http }: RouterDeps): Router {
  const router = Router();

  route(router, 'GET /api/v1/triggers', http, async (req, res) => {
    const q = req.query as { type?: string; source?: string; limit?: string };
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (limit < 1 || limit > 1000) throw new ApiError(400, 'invalid_request', 'limit must be a whole number from 1 to 1000.');
    res.json({
      triggers: await listTriggers(pool, { limit, ...(q.type ? { type: q.type } : {}), ...(q.source ? { source: q.source } : {}) }),
    } satisfies TriggerListResponse);
  });

  route(router, 'GET /api/v1/triggers/:id', http, async (req, res) => {
    const t = await getTrigger(pool, req.params.id);
    if (!t) throw new ApiError(404, 'trigger_not_found', `no trigger instance ${JSON.stringify(req.params.id)}; GET /api/v1/triggers lists recent ones.`);
    res.json(t);
  });

  route(router, 'GET /api/v1/traces/:id', http, async (req, res) => {
    const id = req.params.id;
    let trigger = await getTrigger(pool, id);
    let found: TraceResponse['found'] = 'trigger';
    let origin: TraceResponse['origin'];
    if (!trigger) {
      found = 'run';
      // A run a trigger started, or one started by such a run (a push's pipeline runs: their parent).
      let tid = await triggerOfRun(pool, id);
      const d = tid ? undefined : await describe(client, id);
      if (!tid && d) {
        tid =
          d.typedSearchAttributes.get(SearchAttributes.TriggerId) ??
          (d.parentExecution?.workflowId ? await triggerOfRun(pool, d.parentExecution.workflowId) : undefined);
        if (!tid) {
          const schedule = d.typedSearchAttributes.get(ScheduledBy);
          origin = {
            kind: schedule ? 'schedule' : (d.typedSearchAttributes.get(SearchAttributes.Trigger) ?? 'unknown'),
            ...(d.typedSearchAttributes.get(SearchAttributes.Actor) ? { by: d.typedSearchAttributes.get(SearchAttributes.Actor) } : {}),
            ...(schedule ? { schedule: schedule.replace(/^schedule\./, '') } : {}),
          };
          const self = await traceRun(client, { workflowId: id, kind: d.type });
          return void res.json({ found, trigger: null, origin, runs: [self] } satisfies TraceResponse);
        }
      }
      if (!tid)
        throw new ApiError(
          404,
          'not_found',
          `${JSON.stringify(id)} is neither a trigger instance nor a run; GET /api/v1/triggers lists recent triggers, GET /api/v1/executions and /pipelines/runs recent runs.`,
        );
      trigger = await getTrigger(pool, tid);
      if (!trigger) throw new ApiError(404, 'not_found', `run ${id} names trigger ${tid}, which is not recorded (any more).`);
    }
    const { runs, ...rest } = trigger;
    res.json({ found, trigger: rest, runs: await Promise.all(runs.map((r) => traceRun(client, r))) } satisfies TraceResponse);
  });
  return router;
}
