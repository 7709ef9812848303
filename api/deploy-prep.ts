/**
 * What deploys and release trains share before they start: the component's placement and regions,
 * that a worker serves each region, the version change per region, Puppet's noop plan, and the
 * environment's scope and protection. Built per router from its dependencies.
 */
import crypto from 'node:crypto';
import { type Request } from 'express';

import proto from '@temporalio/proto';
import { regionTaskQueue } from '../common/constants.js';
import type { DeployRequest } from '../common/deploy.js';

import { currentVersions } from '../db/deployments.js';
import { environmentProtected, getComponent } from '../db/sot.js';
import type { Component } from '../sot/definitions.js';
import { ApiError } from './errors.js';

import type { RouterDeps } from './deps.js';
import { principal } from './http.js';
import { checkEnvironment } from './security/permissions.js';

/** How long a protected environment's gate waits when the request names no deadline: a day. */
export const PROTECTED_GATE_SECONDS = 86_400;
import { deployPlan } from '../workflows/index.js';

import { VERSION } from '../common/validation.js';

export function wholeNumber(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** health: {timeoutSeconds 1..86400, intervalSeconds 1..3600}, checked before anything starts. */
export function checkHealth(h: unknown): DeployRequest['health'] | undefined {
  if (h === undefined) return undefined;
  const x = (h ?? {}) as Record<string, unknown>;
  const timeoutSeconds = x.timeoutSeconds;
  const intervalSeconds = x.intervalSeconds;
  if (!wholeNumber(timeoutSeconds, 1, 86400) || !wholeNumber(intervalSeconds, 1, 3600)) {
    throw new ApiError(400, 'invalid_request', 'health is {"timeoutSeconds": 1..86400, "intervalSeconds": 1..3600}, whole numbers of seconds.');
  }
  return { timeoutSeconds, intervalSeconds };
}

export function deployPreparation({ client, pool }: Pick<RouterDeps, 'client' | 'pool'>) {
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

  return { puppetNoop, hasWorkers, prepare, versionChanges, guardEnvironment };
}
