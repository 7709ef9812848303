/**
 * Where a request to run an action becomes a workflow — from the API (POST /api/v1/executions) or a
 * rule a trigger matched: validate the action and its parameters against the caller's authority, pick
 * the region's task queue, start `actionExecution` (or `multiRegionExecution` on the orchestrator).
 */
import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ORCHESTRATOR_TASK_QUEUE, SearchAttributes, regionTaskQueue } from '../common/constants.js';
import { displayArgv, maskArgv, maskParameters } from '../common/argv.js';
import { SecretKeyError, sealSecrets } from '../lib/secrets.js';
import { ParameterError, validateParameters } from '../common/parameters.js';
import type { ActionExecutionInput, ActionSpec, MultiRegionInput } from '../common/types.js';
import { getCurrentAction } from '../db/actions.js';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { checkPackConfigured, checkSshConfigured } from './pack-state.js';
import { ApiError } from './errors.js';
import { checkPackScope, type Principal } from './security/permissions.js';
import { actionExecution, multiRegionExecution } from '../workflows/index.js';

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

function searchAttributes(action: string, region: string, actor: string, trigger: string, triggerId: string | undefined) {
  return [
    { key: SearchAttributes.Action, value: action },
    { key: SearchAttributes.Region, value: region },
    { key: SearchAttributes.Actor, value: actor },
    { key: SearchAttributes.Trigger, value: trigger },
    ...(triggerId ? [{ key: SearchAttributes.TriggerId, value: triggerId }] : []),
  ];
}

/** The parameters with their secret ones sealed with the stack's key (503 when there is none to seal with). */
export function sealForRun(action: ActionSpec, parameters: Record<string, unknown>, key: Buffer | undefined): Record<string, unknown> {
  try {
    return sealSecrets(action, parameters, key);
  } catch (err) {
    if (err instanceof SecretKeyError) throw new ApiError(503, 'secrets_unavailable', err.message);
    throw err;
  }
}

export interface StartOptions {
  actor: string;
  /** The channel: cli, api, or the trigger type for a rule's run. */
  trigger: string;
  idempotencyKey?: string;
  /** The trigger instance a rule's run was started for (search attribute TriggerId). */
  triggerId?: string;
  logger: Logger;
  /** Told what to audit as soon as it is known (before anything may fail). */
  onAudit?: (audit: { target: string; parameters: Record<string, unknown> }) => void;
}

/** Checks and starts a run; the HTTP status and answer. */
export async function startExecution(
  { client, pool, config }: { client: Client; pool: Pool; config: Config },
  p: Principal,
  input: unknown,
  opts: StartOptions,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = input as Record<string, unknown> | undefined;
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
  checkPackScope(p, action.pack, 'executions.run');
  const audit = { target: action.name, parameters: { region: body.region ?? null, regions: body.regions ?? null } as Record<string, unknown> };
  opts.onAudit?.(audit);

  let parameters: Record<string, unknown>;
  try {
    parameters = validateParameters(action, body.parameters);
  } catch (err) {
    if (err instanceof ParameterError) throw new ApiError(400, 'invalid_parameters', err.message, err.problems);
    throw err;
  }
  // A StackStorm python-script action needs its pack's required config keys (st2 refuses such a run too).
  if (action.runner === 'st2-python' || action.runner === 'st2-remote') await checkPackConfigured(pool, action.pack);
  if (action.runner === 'st2-remote') await checkSshConfigured(pool, action.pack, parameters);
  if (body.dryRun === true) {
    // Checked and rendered, not started: the exact argv (secrets masked) the worker would spawn.
    return {
      status: 200,
      body: {
        action: action.name,
        actionVersion: action.version,
        dryRun: true,
        parameters: maskParameters(action, parameters),
        argv: maskArgv(action, parameters),
        command: displayArgv(maskArgv(action, parameters)),
      },
    };
  }
  const { actor, trigger } = opts;
  const idemKey = opts.idempotencyKey;
  const sealed = sealForRun(action, parameters, config.secretKey);
  const shown = displayArgv(maskArgv(action, parameters));
  audit.parameters = { ...audit.parameters, parameters: maskParameters(action, parameters), ...(idemKey ? { idempotencyKey: idemKey } : {}) };

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
          typedSearchAttributes: searchAttributes(action.name, regions.join(','), actor, trigger, opts.triggerId),
        })
      : await client.workflow.start(actionExecution, {
          ...common,
          taskQueue: regionTaskQueue(regions[0]),
          args: [runs[0]],
          staticSummary: `${action.name} on ${regions[0]}`,
          typedSearchAttributes: searchAttributes(action.name, regions[0], actor, trigger, opts.triggerId),
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
  opts.logger.info({ executionId: id, action: action.name, regions, actor, trigger, deduplicated }, 'execution requested');
  return {
    status: deduplicated ? 200 : 202,
    body: {
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
    },
  };
}
