/** Release trains over HTTP: a set of components in dependency order (or the plan of one), on the orchestrator. */
import crypto from 'node:crypto';
import { Router } from 'express';
import { WorkflowFailedError } from '@temporalio/client';

import { ORCHESTRATOR_TASK_QUEUE, SearchAttributes, regionTaskQueue } from '../common/constants.js';
import type { DeployRequest } from '../common/deploy.js';
import { closure, dependencyWaves } from '../common/graph.js';

import { dependencyEdges, listComponents } from '../db/sot.js';

import { ApiError } from './errors.js';
import { actorOf, triggerOf } from './request-context.js';
import type { RouterDeps } from './deps.js';
import { route } from './http.js';

import { releaseSelection, releaseTrain } from '../workflows/index.js';

import { TAG } from '../common/validation.js';

import { PROTECTED_GATE_SECONDS, checkHealth, deployPreparation, wholeNumber } from './deploy-prep.js';

export function releasesRouter(deps: RouterDeps): Router {
  const { client, pool, http } = deps;
  const router = Router();
  const { puppetNoop, prepare, versionChanges, guardEnvironment } = deployPreparation(deps);

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
