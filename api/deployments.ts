/**
 * Deploys over HTTP: validate against the source of truth, then start `deployComponent` on the
 * orchestrator; read deployments; decide approval gates. One deploy per component and environment:
 * a second request while one runs is a 409, not a queue.
 */
import type { DeployPlanResponse } from '../common/api-types-deploy.js';
import { platformPlan } from '../sot/platforms.js';
import crypto from 'node:crypto';
import { Router } from 'express';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

import { ORCHESTRATOR_TASK_QUEUE, SearchAttributes, deploymentWorkflowId } from '../common/constants.js';
import type { DeployRequest } from '../common/deploy.js';

import { deploymentRecords, listDeployments } from '../db/deployments.js';
import { environmentProtected } from '../db/sot.js';

import { ApiError } from './errors.js';
import { actorOf, triggerOf } from './request-context.js';
import type { RouterDeps } from './deps.js';
import { principal, route } from './http.js';
import { checkEnvironment } from './security/permissions.js';

import { deployComponent } from '../workflows/index.js';
import { approveUpdate, deployStatusQuery, rejectUpdate } from '../workflows/definitions.js';
import { RUN_ID } from '../common/validation.js';

import { PROTECTED_GATE_SECONDS, checkHealth, deployPreparation, wholeNumber } from './deploy-prep.js';

export function deploymentsRouter(deps: RouterDeps): Router {
  const { client, pool, logger, http } = deps;
  const router = Router();
  const { puppetNoop, prepare, versionChanges, guardEnvironment } = deployPreparation(deps);

  route(router, 'POST /api/v1/deployments', http, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const environment = body.environment;
    if (typeof environment !== 'string') throw new ApiError(400, 'invalid_request', 'environment is required, e.g. "staging".');
    req.audit = {
      target: `${String(body.component)}@${environment}`,
      parameters: { version: body.version, regions: body.regions ?? null, plan: body.plan === true },
    };
    const isProtected = await guardEnvironment(req, environment);
    const { c, component, version, regions, canary } = await prepare(body, environment);
    const rest = regions.filter((r) => r !== canary);
    const waves = rest.length ? [[canary], rest] : [[canary]];
    // A protected environment always has a gate, before anything is touched (four eyes).
    const approvalSeconds = body.approvalTimeoutSeconds ?? (isProtected ? PROTECTED_GATE_SECONDS : undefined);
    if (approvalSeconds !== undefined && !wholeNumber(approvalSeconds, 1, 7 * 86400))
      throw new ApiError(400, 'invalid_request', 'approvalTimeoutSeconds is a whole number of seconds from 1 to 604800 (a week).');
    const health = checkHealth(body.health);
    const changes = await versionChanges(component, environment, regions, version);
    if (body.plan === true) {
      const noop = await puppetNoop(c, version, environment, regions);
      res.json({
        plan: true,
        component,
        version,
        environment,
        waves,
        changes,
        puppetRole: c.puppetRole,
        puppetNoop: noop,
        checks: c.checks.map((k) => k.name),
        deployAction: c.actions.deploy ?? null,
        approvalGate: approvalSeconds !== undefined,
        platform: c.platform,
        platformWork: Object.fromEntries(regions.map((r) => [r, platformPlan(c.platformSettings, r, version, c.platform)])),
      } satisfies Omit<DeployPlanResponse, 'puppetNoop'> & { puppetNoop: Record<string, unknown> });
      return;
    }
    const workflowId = deploymentWorkflowId(component, environment);
    const request: DeployRequest = {
      deploymentId: `${workflowId}-${crypto.randomBytes(4).toString('hex')}`,
      component,
      version,
      environment,
      regions,
      canary,
      actor: actorOf(req),
      trigger: triggerOf(req),
      ...(approvalSeconds !== undefined
        ? { approval: { required: true, timeoutSeconds: approvalSeconds, ...(isProtected ? { beforeFirstWave: true } : {}) } }
        : {}),
      ...(health ? { health } : {}),
    };
    try {
      const handle = await client.workflow.start(deployComponent, {
        taskQueue: ORCHESTRATOR_TASK_QUEUE,
        workflowId,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        args: [request],
        memo: { deploymentId: request.deploymentId },
        staticSummary: `deploy ${component} ${version} to ${environment} (${regions.join(', ')})`,
        staticDetails: `waves: ${waves.map((w) => w.join('+')).join(' → ')}; by ${request.actor} via ${request.trigger}`,
        typedSearchAttributes: [
          { key: SearchAttributes.Component, value: component },
          { key: SearchAttributes.Env, value: environment },
          { key: SearchAttributes.Version, value: version },
          { key: SearchAttributes.Region, value: regions.join(',') },
          { key: SearchAttributes.Trigger, value: request.trigger },
          { key: SearchAttributes.Actor, value: request.actor },
        ],
      });
      logger.info({ workflowId, component, version, environment, actor: request.actor }, 'deploy requested');
      res.status(202).json({ id: workflowId, runId: handle.firstExecutionRunId, deploymentId: request.deploymentId, waves, changes });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new ApiError(
          409,
          'deploy_in_progress',
          `a deploy of ${component} to ${environment} is already running (workflow ${workflowId}); wait for it to end or cancel it, then deploy again.`,
        );
      }
      throw err;
    }
  });

  route(router, 'GET /api/v1/deployments', http, async (req, res) => {
    const component = typeof req.query.component === 'string' ? req.query.component : null;
    const environment = typeof req.query.environment === 'string' ? req.query.environment : null;
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ApiError(400, 'invalid_request', 'limit is a whole number from 1 to 1000.');
    const rows = await listDeployments(pool, { component: component ?? undefined, environment: environment ?? undefined, limit });
    res.json({ deployments: rows });
  });

  route(router, 'GET /api/v1/deployments/:id', http, async (req, res) => {
    const id = req.params.id;
    if (!RUN_ID.test(id)) throw new ApiError(400, 'invalid_request', 'deployment ids are letters, digits and . _ : -');
    const handle = client.workflow.getHandle(id);
    let desc;
    try {
      desc = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'deployment_not_found', `no deployment ${JSON.stringify(id)}.`);
      throw err;
    }
    const status = desc.status.name;
    let detail: unknown = null;
    let error: string | null = null;
    if (status === 'RUNNING') detail = await handle.query(deployStatusQuery).catch(() => null);
    else if (status === 'COMPLETED') detail = await handle.result();
    else
      await handle.result().catch((e: Error & { cause?: Error }) => {
        error = e.cause?.message ?? e.message;
      });
    // This run's region records only (ids are <deploymentId>.<region>.<kind>).
    const deploymentId = typeof desc.memo?.deploymentId === 'string' ? desc.memo.deploymentId : id;
    const rows = (await deploymentRecords(pool, deploymentId)).map(({ id, region, kind, version, status, reason, puppet, approvedBy }) => ({
      id,
      region,
      kind,
      version,
      status,
      reason,
      puppet,
      approvedBy,
    }));
    res.json({ id, type: desc.type, status: status.toLowerCase(), detail, error, records: rows });
  });

  for (const verdict of ['approve', 'reject'] as const) {
    route(router, `POST /api/v1/deployments/:id/${verdict}`, http, async (req, res) => {
      const id = req.params.id;
      // The audit row's action is the permission (deployments.approve) for both verdicts: the verdict says which.
      req.audit = { target: id, parameters: { verdict, reason: (req.body as { reason?: string }).reason ?? null } };
      const handle = client.workflow.getHandle(id);
      let description;
      try {
        description = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'deployment_not_found', `no running deployment ${JSON.stringify(id)}.`);
        throw err;
      }
      const env = description.typedSearchAttributes.get(SearchAttributes.Env);
      const requester = description.typedSearchAttributes.get(SearchAttributes.Actor);
      if (env === undefined) throw new ApiError(404, 'deployment_not_found', `${id} is not a deployment.`);
      const p = principal(req);
      checkEnvironment(p, env, false, 'deployments.approve');
      if (verdict === 'approve' && (await environmentProtected(pool, env)) && requester === p.actor) {
        throw new ApiError(
          403,
          'four_eyes',
          `${env} is a protected environment: ${p.actor} requested this deploy and cannot approve it too; another person with the operator role or above must approve.`,
          { requester, environment: env },
        );
      }
      let awaiting: boolean;
      try {
        const st = await handle.query(deployStatusQuery);
        awaiting = st.awaitingApproval;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'deployment_not_found', `no running deployment ${JSON.stringify(id)}.`);
        throw new ApiError(409, 'not_running', `deployment ${id} is not running; nothing to ${verdict}.`);
      }
      if (!awaiting) throw new ApiError(409, 'not_awaiting_approval', `deployment ${id} is not waiting at an approval gate.`);
      const actor = actorOf(req);
      const reason = (req.body as { reason?: unknown } | undefined)?.reason;
      try {
        // An update, not a signal: the workflow's validator refuses it unless the gate is still open,
        // so a decision that arrives just after the deadline is reported as refused, not lost.
        if (verdict === 'approve') await handle.executeUpdate(approveUpdate, { args: [{ actor }] });
        else await handle.executeUpdate(rejectUpdate, { args: [{ actor, ...(typeof reason === 'string' ? { reason } : {}) }] });
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError)
          throw new ApiError(409, 'not_awaiting_approval', `deployment ${id} is not waiting at an approval gate (it was decided or its deadline passed).`);
        if (err instanceof WorkflowNotFoundError) throw new ApiError(409, 'not_running', `deployment ${id} is not running; nothing to ${verdict}.`);
        throw err;
      }
      logger.info({ deployment: id, actor, verdict }, 'approval gate decided');
      res.status(202).json({ id, [verdict === 'approve' ? 'approvedBy' : 'rejectedBy']: actor });
    });
  }

  return router;
}
