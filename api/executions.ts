/**
 * Where an HTTP request becomes a workflow: validate the action and its parameters, pick the
 * region's task queue, start `actionExecution` (or `multiRegionExecution` on the orchestrator).
 */
import { Router } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { SearchAttributes, isTerminal } from '../common/constants.js';
import { getExecution, listExecutions } from '../db/executions.js';
import { readLogs } from '../db/logs.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { checkPackScope } from './security/permissions.js';
import { actorOf, triggerOf } from './request-context.js';
import { startExecution } from './execution-start.js';
import { multiRegionExecution } from '../workflows/index.js';
import { resolveLostUpdate, type LostDecision } from '../workflows/definitions.js';
import { RUN_ID } from '../common/validation.js';
import type { CancelResponse } from '../common/api-types.js';

/** The workflows whose runs may wait for a decision after a lost worker (workflows/lost-runs.ts). */
const LOSABLE = ['actionExecution', 'regionDeploy', 'pipelineRun', 'pipelineForEach'];

/** A run's description, or a 404 naming it. */
async function describeOr404(handle: WorkflowHandle, id: string) {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'execution_not_found', `no execution ${JSON.stringify(id)}.`);
    throw err;
  }
}

export function executionsRouter({ client, pool, config, logger, http }: RouterDeps): Router {
  const router = Router();

  route(router, 'POST /api/v1/executions', http, async (req, res) => {
    const idempotencyKey = req.header('idempotency-key');
    const out = await startExecution({ client, pool, config }, principal(req), req.body, {
      actor: actorOf(req),
      trigger: triggerOf(req),
      ...(idempotencyKey ? { idempotencyKey } : {}),
      logger,
      onAudit: (a) => (req.audit = a),
    });
    res.status(out.status).json(out.body);
  });

  route(router, 'GET /api/v1/executions', http, async (req, res) => {
    const limitRaw = req.query.limit;
    const limit = limitRaw === undefined ? 50 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ApiError(400, 'invalid_request', 'limit must be a whole number from 1 to 1000.');
    const action = typeof req.query.action === 'string' ? req.query.action : undefined;
    res.json({ executions: (await listExecutions(pool, { limit, ...(action ? { action } : {}) })).map(({ stdout: _o, stderr: _e, ...rest }) => rest) });
  });

  route(router, 'GET /api/v1/executions/:id', http, async (req, res) => {
    const id = req.params.id;
    if (!RUN_ID.test(id)) throw new ApiError(400, 'invalid_request', 'execution ids are letters, digits and . _ : -');
    const waitRaw = req.query.wait;
    const wait = waitRaw === undefined ? 0 : Number(waitRaw);
    if (!Number.isFinite(wait) || wait < 0) throw new ApiError(400, 'invalid_request', 'wait is a number of seconds (0 or more).');
    const handle = client.workflow.getHandle(id);
    if (wait > 0) {
      const seconds = Math.min(wait, config.api.maxWaitSeconds);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        handle.result().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, seconds * 1000);
        }),
      ]);
      clearTimeout(timer);
    }
    const row = await getExecution(pool, id);
    if (row && isTerminal(row.status)) return void res.json({ kind: 'action', ...row });
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        if (row) return void res.json({ kind: 'action', ...row });
        throw new ApiError(404, 'execution_not_found', `no execution ${JSON.stringify(id)}; GET /api/v1/executions lists recent ones.`);
      }
      throw err;
    }
    const wfStatus = description.status.name;
    if (description.type === multiRegionExecution.name) {
      const children = await listExecutions(pool, { parentId: id, limit: 100 });
      const status =
        wfStatus === 'RUNNING'
          ? 'running'
          : wfStatus === 'COMPLETED'
            ? 'succeeded'
            : wfStatus === 'CANCELLED'
              ? 'cancelled'
              : wfStatus === 'TIMED_OUT'
                ? 'timed_out'
                : 'failed';
      return void res.json({
        kind: 'multi-region',
        id,
        workflowId: id,
        status,
        startedAt: description.startTime.toISOString(),
        finishedAt: description.closeTime?.toISOString() ?? null,
        children,
      });
    }
    // A run can start and end between the row read above and describe(): its row is written before
    // the workflow closes, so read it again rather than answer without exit code and output.
    const latest = row ?? (wfStatus === 'RUNNING' ? undefined : await getExecution(pool, id));
    if (latest) return void res.json({ kind: 'action', ...latest });
    // Started, but its activity has not written a row yet.
    const status = wfStatus === 'RUNNING' ? 'scheduled' : wfStatus === 'CANCELLED' ? 'cancelled' : wfStatus === 'COMPLETED' ? 'succeeded' : 'failed';
    res.json({ kind: 'action', id, workflowId: id, status, createdAt: description.startTime.toISOString() });
  });

  route(router, 'GET /api/v1/executions/:id/logs', http, async (req, res) => {
    const id = req.params.id;
    if (!RUN_ID.test(id)) throw new ApiError(400, 'invalid_request', 'execution ids are letters, digits and . _ : -');
    const after = req.query.after === undefined ? 0 : Number(req.query.after);
    const wait = req.query.wait === undefined ? 0 : Math.min(Number(req.query.wait), config.api.maxWaitSeconds);
    if (!Number.isInteger(after) || after < 0) throw new ApiError(400, 'invalid_request', 'after is the last seq you have (a whole number, 0 for the start).');
    if (!Number.isFinite(wait) || wait < 0) throw new ApiError(400, 'invalid_request', 'wait is a number of seconds (0 or more).');
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      // The row first: a worker flushes all output before it records the end, so a row read as
      // ended before the logs guarantees those logs are complete (the other order can miss the tail).
      const row = await getExecution(pool, id);
      const entries = await readLogs(pool, id, after);
      const done = row !== undefined && isTerminal(row.status);
      if (entries.length || done || Date.now() >= deadline) {
        if (!row && entries.length === 0) {
          // Not started yet, or unknown: tell them apart.
          try {
            await client.workflow.getHandle(id).describe();
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'execution_not_found', `no execution ${JSON.stringify(id)}.`);
            throw err;
          }
        }
        res.json({
          id,
          entries,
          next: entries.length ? entries[entries.length - 1].seq : after,
          done: done && entries.length === 0,
          status: row?.status ?? 'scheduled',
        });
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  route(router, 'POST /api/v1/executions/:id/cancel', http, async (req, res) => {
    const id = req.params.id;
    if (!RUN_ID.test(id)) throw new ApiError(400, 'invalid_request', 'execution ids are letters, digits and . _ : -');
    const handle = client.workflow.getHandle(id);
    const description = await describeOr404(handle, id);
    const actionName = description.typedSearchAttributes.get(SearchAttributes.Action);
    req.audit = { target: id, parameters: { action: actionName ?? null } };
    if (actionName) checkPackScope(principal(req), actionName.split('.')[0], 'executions.cancel');
    if (description.status.name !== 'RUNNING') {
      throw new ApiError(409, 'already_finished', `execution ${id} has already finished (${description.status.name.toLowerCase()}); nothing to cancel.`);
    }
    try {
      await handle.cancel();
    } catch (err) {
      // It ended between describe() and the cancel request.
      if (err instanceof WorkflowNotFoundError) throw new ApiError(409, 'already_finished', `execution ${id} has already finished; nothing to cancel.`);
      throw err;
    }
    logger.info({ executionId: id, actor: actorOf(req) }, 'execution cancel requested');
    res.status(202).json({ id, status: 'cancelling' } satisfies CancelResponse);
  });

  route(router, 'POST /api/v1/executions/:id/resolve', http, async (req, res) => {
    const id = req.params.id;
    if (!RUN_ID.test(id)) throw new ApiError(400, 'invalid_request', 'execution ids are letters, digits and . _ : -');
    const body = req.body as { decision: LostDecision['decision']; reason?: string };
    // A run is its own workflow, or (a deploy leg's action) an activity of the workflow its record names.
    const record = await getExecution(pool, id);
    const workflowId = record?.workflowId && record.workflowId !== id ? record.workflowId : id;
    const handle = client.workflow.getHandle(workflowId);
    const description = await describeOr404(handle, id);
    const actionName = record?.action ?? description.typedSearchAttributes.get(SearchAttributes.Action);
    req.audit = { target: id, parameters: { action: actionName ?? null, decision: body.decision, reason: body.reason ?? null } };
    if (actionName) checkPackScope(principal(req), actionName.split('.')[0], 'executions.run');
    if (!LOSABLE.includes(description.type) || description.status.name !== 'RUNNING')
      throw new ApiError(
        409,
        'not_lost',
        `execution ${id} is not waiting for a decision (${description.status.name.toLowerCase()}): only a run whose worker was lost is.`,
      );
    try {
      const r = await handle.executeUpdate(resolveLostUpdate, {
        args: [{ decision: body.decision, actor: actorOf(req), executionId: id, ...(body.reason ? { reason: body.reason } : {}) }],
      });
      logger.info({ executionId: id, decision: r.decision, actor: r.decidedBy }, 'lost execution resolved');
      res.json({ id, ...r });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ApiError(409, 'not_lost', err.cause?.message ?? err.message);
      throw err;
    }
  });

  return router;
}
