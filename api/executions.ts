/**
 * Where an HTTP request becomes a workflow: validate the action and its parameters, pick the
 * region's task queue, start `actionExecution` (or `multiRegionExecution` on the orchestrator).
 */
import crypto from 'node:crypto';
import { Router } from 'express';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { ORCHESTRATOR_TASK_QUEUE, SearchAttributes, isTerminal, regionTaskQueue } from '../common/constants.js';
import { displayArgv, maskArgv, maskParameters } from '../common/argv.js';
import { SecretKeyError, sealSecrets } from '../lib/secrets.js';
import { ParameterError, validateParameters } from '../common/parameters.js';
import type { ActionExecutionInput, ActionSpec, MultiRegionInput } from '../common/types.js';
import { getCurrentAction } from '../db/actions.js';
import { getExecution, listExecutions } from '../db/executions.js';
import { readLogs } from '../db/logs.js';
import type { Config } from '../lib/config.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { checkPackScope } from './security/permissions.js';
import { actorOf, triggerOf } from './request-context.js';
import { actionExecution, multiRegionExecution } from '../workflows/index.js';
import { RUN_ID } from '../common/validation.js';
import type { CancelResponse } from '../common/api-types.js';

/** A keyed digest of what was asked (never the values themselves: secrets must not be guessable from it). */
function requestHash(config: Config, action: string, parameters: Record<string, unknown>, regions: string[]): string {
  const h = config.secretKey ? crypto.createHmac('sha256', config.secretKey) : crypto.createHash('sha256');
  return h.update(JSON.stringify([action, Object.entries(parameters).sort(([a], [b]) => (a < b ? -1 : 1)), regions])).digest('hex');
}

function newId(action: string, region: string, idempotencyKey: string | undefined): string {
  const suffix = idempotencyKey
    ? crypto.createHash('sha256').update(`${action}\0${region}\0${idempotencyKey}`).digest('hex').slice(0, 16)
    : crypto.randomBytes(6).toString('hex');
  return `${action}-${region}-${suffix}`;
}

function checkRegion(config: Config, action: ActionSpec, region: unknown, field: string): string {
  if (typeof region !== 'string' || !config.regions.includes(region)) {
    throw new ApiError(400, 'invalid_region', `${field}: ${JSON.stringify(region)} is not a configured region; use one of ${config.regions.join(', ')}.`);
  }
  if (action.region && action.region !== region) {
    throw new ApiError(400, 'invalid_region', `${field}: ${action.name} runs only in ${action.region}; leave the region out or set it to ${action.region}.`);
  }
  return region;
}

function searchAttributes(action: string, region: string, actor: string, trigger: string) {
  return [
    { key: SearchAttributes.Action, value: action },
    { key: SearchAttributes.Region, value: region },
    { key: SearchAttributes.Actor, value: actor },
    { key: SearchAttributes.Trigger, value: trigger },
  ];
}

export function executionsRouter({ client, pool, config, logger, http }: RouterDeps): Router {
  const router = Router();

  route(router, 'POST /api/v1/executions', http, async (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new ApiError(400, 'invalid_request', 'the body must be a JSON object: {"action": "<pack.action>", "parameters": {…}, "region": "<region>"}');
    }
    const known = new Set(['action', 'parameters', 'region', 'regions', 'dryRun']);
    const extra = Object.keys(body).filter((k) => !known.has(k));
    if (extra.length) throw new ApiError(400, 'invalid_request', `unknown field(s) ${extra.join(', ')}; allowed: action, parameters, region, regions.`);
    if (typeof body.action !== 'string' || body.action === '') {
      throw new ApiError(400, 'invalid_request', 'action is required: the name of an action such as "ops.disk_report" (GET /api/v1/actions lists them).');
    }
    if (body.region !== undefined && body.regions !== undefined) throw new ApiError(400, 'invalid_request', 'give either region or regions, not both.');
    const action = await getCurrentAction(pool, body.action);
    if (!action) throw new ApiError(404, 'action_not_found', `no action named ${JSON.stringify(body.action)}; GET /api/v1/actions lists the catalog.`);
    checkPackScope(principal(req), action.pack, 'executions.run');
    req.audit = { target: action.name, parameters: { region: body.region ?? null, regions: body.regions ?? null } };

    let parameters: Record<string, unknown>;
    try {
      parameters = validateParameters(action, body.parameters);
    } catch (err) {
      if (err instanceof ParameterError) throw new ApiError(400, 'invalid_parameters', err.message, err.problems);
      throw err;
    }
    if (body.dryRun === true) {
      // Checked and rendered, not started: the exact argv (secrets masked) the worker would spawn.
      res.json({
        action: action.name,
        actionVersion: action.version,
        dryRun: true,
        parameters: maskParameters(action, parameters),
        argv: maskArgv(action, parameters),
        command: displayArgv(maskArgv(action, parameters)),
      });
      return;
    }
    const actor = actorOf(req);
    const trigger = triggerOf(req);
    const idemKey = req.header('idempotency-key');
    let sealed: Record<string, unknown>;
    try {
      sealed = sealSecrets(action, parameters, config.secretKey);
    } catch (err) {
      if (err instanceof SecretKeyError) throw new ApiError(503, 'secrets_unavailable', err.message);
      throw err;
    }
    const shown = displayArgv(maskArgv(action, parameters));
    req.audit.parameters = { ...req.audit.parameters, parameters: maskParameters(action, parameters), ...(idemKey ? { idempotencyKey: idemKey } : {}) };

    let regions: string[];
    if (Array.isArray(body.regions)) {
      if (body.regions.length === 0) throw new ApiError(400, 'invalid_region', 'regions: give at least one region.');
      regions = body.regions.map((r, i) => checkRegion(config, action, r, `regions[${i}]`));
      if (new Set(regions).size !== regions.length) throw new ApiError(400, 'invalid_region', 'regions: a region is listed twice.');
    } else if (body.regions !== undefined) {
      throw new ApiError(400, 'invalid_region', `regions must be an array of region names such as ["${config.regions.join('", "')}"].`);
    } else {
      regions = [checkRegion(config, action, body.region ?? action.region ?? config.regions[0], 'region')];
    }

    const multi = Array.isArray(body.regions);
    const id = newId(action.name, multi ? 'multi' : regions[0], idemKey);
    const runs: ActionExecutionInput[] = regions.map((region) => ({
      executionId: multi ? `${id}.${region}` : id,
      action,
      parameters: sealed,
      region,
      actor,
      trigger,
      ...(multi ? { parentId: id } : {}),
      summary: `${action.name} on ${region}`,
    }));
    const common = {
      workflowId: id,
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      memo: {
        parameters: maskParameters(action, parameters),
        command: shown,
        actionVersion: action.version,
        requestHash: requestHash(config, action.name, parameters, regions),
      },
      staticDetails: `\`${shown}\` requested by ${actor} via ${trigger}`,
    };
    let handle: WorkflowHandle;
    let deduplicated = false;
    try {
      handle = multi
        ? await client.workflow.start(multiRegionExecution, {
            ...common,
            taskQueue: ORCHESTRATOR_TASK_QUEUE,
            args: [{ executionId: id, regions, runs } satisfies MultiRegionInput],
            staticSummary: `${action.name} in ${regions.join(', ')}`,
            typedSearchAttributes: searchAttributes(action.name, regions.join(','), actor, trigger),
          })
        : await client.workflow.start(actionExecution, {
            ...common,
            taskQueue: regionTaskQueue(regions[0]),
            args: [runs[0]],
            staticSummary: `${action.name} on ${regions[0]}`,
            typedSearchAttributes: searchAttributes(action.name, regions[0], actor, trigger),
          });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !idemKey) throw err;
      handle = client.workflow.getHandle(id);
      // The same key must mean the same request: reusing it for other parameters is a client bug.
      const earlier = (await handle.describe()).memo?.requestHash;
      if (earlier !== common.memo.requestHash) {
        throw new ApiError(
          422,
          'idempotency_key_reused',
          `Idempotency-Key ${JSON.stringify(idemKey)} was already used for ${action.name} with other parameters (run ${id}); use a new key for a different request.`,
        );
      }
      deduplicated = true;
    }
    logger.info({ executionId: id, action: action.name, regions, actor, trigger, deduplicated }, 'execution requested');
    res.status(deduplicated ? 200 : 202).json({
      id,
      workflowId: handle.workflowId,
      action: action.name,
      actionVersion: action.version,
      regions,
      ...(multi ? { children: runs.map((r) => r.executionId) } : {}),
      status: 'scheduled',
      command: shown,
      deduplicated,
      links: { self: `/api/v1/executions/${encodeURIComponent(id)}` },
    });
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
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'execution_not_found', `no execution ${JSON.stringify(id)}.`);
      throw err;
    }
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

  return router;
}
