/**
 * Deploys and release trains over HTTP: validate against the source of truth, then start
 * `deployComponent` / `releaseTrain` on the orchestrator. One deploy per component and environment:
 * a second request while one runs is a 409, not a queue.
 */
import crypto from 'node:crypto';
import { Router, type Request } from 'express';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import proto from '@temporalio/proto';
import { ORCHESTRATOR_TASK_QUEUE, SearchAttributes, deploymentWorkflowId, regionTaskQueue } from '../common/constants.js';
import type { DeployRequest } from '../common/deploy.js';
import { closure, dependencyWaves } from '../common/graph.js';
import { currentVersions, deploymentRecords, listDeployments } from '../db/deployments.js';
import { dependencyEdges, environmentProtected, getComponent, listComponents } from '../db/sot.js';
import type { Component } from '../sot/definitions.js';
import { ApiError } from './errors.js';
import { actorOf, triggerOf } from './request-context.js';
import type { RouterDeps } from './deps.js';
import { principal, route } from './http.js';
import { checkEnvironment } from './security/permissions.js';

/** How long a protected environment's gate waits when the request names no deadline: a day. */
const PROTECTED_GATE_SECONDS = 86_400;
import { deployComponent, deployPlan, releaseSelection, releaseTrain } from '../workflows/index.js';
import { approveUpdate, deployStatusQuery, rejectUpdate } from '../workflows/definitions.js';
import { RUN_ID, TAG, VERSION } from '../common/validation.js';

function wholeNumber(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** health: {timeoutSeconds 1..86400, intervalSeconds 1..3600}, checked before anything starts. */
function checkHealth(h: unknown): DeployRequest['health'] | undefined {
  if (h === undefined) return undefined;
  const x = (h ?? {}) as Record<string, unknown>;
  const timeoutSeconds = x.timeoutSeconds;
  const intervalSeconds = x.intervalSeconds;
  if (!wholeNumber(timeoutSeconds, 1, 86400) || !wholeNumber(intervalSeconds, 1, 3600)) {
    throw new ApiError(400, 'invalid_request', 'health is {"timeoutSeconds": 1..86400, "intervalSeconds": 1..3600}, whole numbers of seconds.');
  }
  return { timeoutSeconds, intervalSeconds };
}

export function deploymentsRouter({ client, pool, logger, http }: RouterDeps): Router {
  const router = Router();

  /** Puppet in noop mode on each region's worker: what would change, changing nothing. */
  async function puppetNoop(c: Component, version: string, environment: string, regions: string[]): Promise<Record<string, unknown>> {
    const result: Record<string, unknown> = {};
    if (!c.puppetRole) return result;
    const role = c.puppetRole;
    await Promise.all(
      regions.map(async (region) => {
        try {
          result[region] = await client.workflow.execute(deployPlan, {
            taskQueue: regionTaskQueue(region),
            workflowId: `plan-${c.name}-${environment}-${region}-${crypto.randomBytes(4).toString('hex')}`,
            args: [{ component: c.name, role, hiera: c.hiera, version, environment, region }],
            workflowExecutionTimeout: '5m',
            staticSummary: `plan (puppet noop) ${c.name} ${version} in ${environment}/${region}`,
          });
        } catch (err) {
          const e = err as Error & { cause?: Error & { cause?: Error } };
          result[region] = { error: e.cause?.cause?.message ?? e.cause?.message ?? e.message };
        }
      }),
    );
    return result;
  }

  /** Whether a worker polled the region's workflow queue recently (Temporal keeps pollers of the last minutes). */
  async function hasWorkers(region: string): Promise<boolean> {
    const r = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: regionTaskQueue(region) },
      taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (r.pollers?.length ?? 0) > 0;
  }

  async function prepare(body: Record<string, unknown>, environment: string) {
    const component = body.component;
    const version = body.version;
    if (typeof component !== 'string')
      throw new ApiError(400, 'invalid_request', 'component is required: a component of the source of truth (GET /api/v1/components).');
    if (typeof version !== 'string' || !VERSION.test(version))
      throw new ApiError(400, 'invalid_request', `version ${JSON.stringify(version)} is not a version: letters, digits and . _ + -.`);
    const c = await getComponent(pool, component);
    if (!c) throw new ApiError(404, 'component_not_found', `no component named ${JSON.stringify(component)} in the source of truth.`);
    const placed = c.placements[environment] ?? [];
    if (!placed.length)
      throw new ApiError(
        400,
        'not_placed',
        `${component} is not placed in environment ${JSON.stringify(environment)}; it runs in ${Object.keys(c.placements).join(', ') || 'no environment'}.`,
      );
    let regions = placed;
    if (body.regions !== undefined) {
      if (!Array.isArray(body.regions) || !body.regions.every((r) => typeof r === 'string'))
        throw new ApiError(400, 'invalid_request', 'regions must be an array of region names.');
      const bad = body.regions.filter((r) => !placed.includes(r));
      if (bad.length)
        throw new ApiError(400, 'not_placed', `${component} does not run in ${bad.join(', ')} for ${environment} (it runs in ${placed.join(', ')}).`);
      const dup = body.regions.find((r, i, all) => all.indexOf(r) !== i);
      if (dup) throw new ApiError(400, 'invalid_request', `regions lists ${dup} twice.`);
      regions = body.regions;
    }
    const canary = typeof body.canary === 'string' ? body.canary : regions[0];
    if (!regions.includes(canary)) throw new ApiError(400, 'invalid_request', `canary ${canary} is not one of the regions ${regions.join(', ')}.`);
    // A region nobody serves would hold the deploy (and its one-per-environment slot) until a worker appears.
    const unserved = [];
    for (const r of regions) if (!(await hasWorkers(r))) unserved.push(r);
    if (unserved.length)
      throw new ApiError(
        409,
        'no_worker',
        `no worker serves ${unserved.map((r) => `${r} (task queue ${regionTaskQueue(r)})`).join(', ')}; start one with \`node dist/workers/worker.js --region ${unserved[0]}\`, then deploy again.`,
      );
    return { c, component, version, regions, canary };
  }

  /** Per region, the version running now (the last succeeded deploy) and the one a deploy would bring. */
  async function versionChanges(
    component: string,
    environment: string,
    regions: string[],
    version: string,
  ): Promise<{ region: string; from: string | null; to: string }[]> {
    const running = await currentVersions(pool, component, environment);
    return regions.map((r) => ({ region: r, from: running.get(r) ?? null, to: version }));
  }

  /** Scope and role for deploying to an environment; answers whether it is protected. */
  async function guardEnvironment(req: Request, environment: string): Promise<boolean> {
    const isProtected = (await environmentProtected(pool, environment)) ?? false;
    checkEnvironment(principal(req), environment, isProtected, 'deployments.deploy');
    return isProtected;
  }

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
      });
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
    // This run's region records only (ids are <deploymentId>.<region>.<kind>; names hold no LIKE wildcards).
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
      req.audit = { target: id, parameters: { reason: (req.body as { reason?: string }).reason ?? null } };
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

  route(router, 'POST /api/v1/releases', http, async (req, res) => {
    const body = (req.body ?? {}) as {
      environment?: unknown;
      components?: unknown;
      sinceTag?: unknown;
      plan?: unknown;
      maxParallel?: unknown;
      health?: DeployRequest['health'];
    };
    if (typeof body.environment !== 'string') throw new ApiError(400, 'invalid_request', 'environment is required.');
    req.audit = {
      target: `release@${body.environment}`,
      parameters: { components: body.components ?? null, sinceTag: body.sinceTag ?? null, plan: body.plan === true },
    };
    const isProtected = await guardEnvironment(req, body.environment);
    let selection: { unchanged: string[]; warnings: string[] } | undefined;
    if (body.sinceTag !== undefined) {
      // Everything placed in the environment whose repository has commits since the tag.
      if (typeof body.sinceTag !== 'string' || body.components !== undefined)
        throw new ApiError(400, 'invalid_request', 'give either components or sinceTag (a tag name), not both.');
      if (!TAG.test(body.sinceTag)) throw new ApiError(400, 'invalid_request', `sinceTag ${JSON.stringify(body.sinceTag)} is not a tag name.`);
      const env = body.environment;
      const placed = (await listComponents(pool)).filter((c) => (c.placements[env] ?? []).length > 0);
      const firstRegion = placed[0]?.placements[env]?.[0];
      if (!firstRegion) throw new ApiError(400, 'not_placed', `no component is placed in environment ${JSON.stringify(env)}.`);
      const found = await client.workflow
        .execute(releaseSelection, {
          taskQueue: regionTaskQueue(firstRegion),
          workflowId: `release-selection-${env}-${crypto.randomBytes(4).toString('hex')}`,
          args: [{ tag: body.sinceTag, components: placed.map((c) => ({ name: c.name, repository: c.repository })) }],
          workflowExecutionTimeout: '30m',
        })
        .catch((err: unknown) => {
          if (err instanceof WorkflowFailedError) {
            const cause = (err.cause?.cause ?? err.cause) as Error | undefined;
            throw new ApiError(422, 'selection_failed', `could not tell what changed since ${String(body.sinceTag)}: ${cause?.message ?? err.message}`);
          }
          throw err;
        });
      if (found.changed.length === 0) {
        res.json({ plan: body.plan === true, environment: env, waves: [], versions: {}, unchanged: found.unchanged, warnings: found.warnings });
        return;
      }
      body.components = Object.fromEntries(found.changed.map((c) => [c.name, c.version]));
      selection = { unchanged: found.unchanged, warnings: found.warnings };
    }
    const versions = body.components;
    if (!versions || typeof versions !== 'object' || Array.isArray(versions) || Object.keys(versions).length === 0)
      throw new ApiError(400, 'invalid_request', 'components maps each component to the version to deploy, e.g. {"auth-service": "2.4.0"}.');
    const firstRegion: Record<string, string> = {};
    const prepared: Awaited<ReturnType<typeof prepare>>[] = [];
    for (const [component, version] of Object.entries(versions as Record<string, unknown>)) {
      const p = await prepare({ component, version }, body.environment);
      firstRegion[component] = p.canary;
      prepared.push(p);
    }
    const all = await dependencyEdges(pool);
    // Transitive: web-ui → gateway → auth still orders web-ui after auth when gateway is not in the release.
    const edges = Object.fromEntries(Object.keys(versions).map((c) => [c, closure(c, all).filter((d) => d in versions)]));
    const waves = dependencyWaves(Object.keys(versions), new Map(Object.entries(edges)));
    if (body.plan === true) {
      const env = body.environment;
      const noop = Object.fromEntries(await Promise.all(prepared.map(async (p) => [p.component, await puppetNoop(p.c, p.version, env, p.regions)] as const)));
      const changes = Object.fromEntries(
        await Promise.all(prepared.map(async (p) => [p.component, await versionChanges(p.component, env, p.regions, p.version)] as const)),
      );
      res.json({ plan: true, environment: env, waves, versions, changes, puppetNoop: noop, ...(selection ?? {}) });
      return;
    }
    const maxParallel = body.maxParallel === undefined ? 4 : body.maxParallel;
    if (!wholeNumber(maxParallel, 1, 100)) throw new ApiError(400, 'invalid_request', 'maxParallel is a whole number from 1 to 100.');
    const health = checkHealth(body.health);
    const releaseId = `release-${body.environment}-${crypto.randomBytes(4).toString('hex')}`;
    const actor = actorOf(req);
    const trigger = triggerOf(req);
    await client.workflow.start(releaseTrain, {
      taskQueue: ORCHESTRATOR_TASK_QUEUE,
      workflowId: releaseId,
      args: [
        {
          releaseId,
          environment: body.environment,
          versions: versions as Record<string, string>,
          edges,
          firstRegion,
          maxParallel,
          actor,
          trigger,
          ...(health ? { health } : {}),
          ...(isProtected ? { approval: { required: true as const, timeoutSeconds: PROTECTED_GATE_SECONDS, beforeFirstWave: true } } : {}),
        },
      ],
      staticSummary: `release of ${Object.keys(versions).length} components to ${body.environment}`,
      staticDetails: waves.map((w, i) => `wave ${i + 1}: ${w.join(', ')}`).join('\n'),
      typedSearchAttributes: [
        { key: SearchAttributes.Env, value: body.environment },
        { key: SearchAttributes.Pipeline, value: 'release-train' },
        { key: SearchAttributes.Trigger, value: trigger },
        { key: SearchAttributes.Actor, value: actor },
      ],
    });
    res.status(202).json({ id: releaseId, waves, versions, ...(selection ?? {}) });
  });
  return router;
}
