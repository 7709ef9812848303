/** The source of truth over HTTP: apply YAML definitions (validated first, one transaction) and read components. */
import { Router } from 'express';
import { closure, invert } from '../common/graph.js';
import { MASK } from '../common/argv.js';
import { getCurrentAction } from '../db/actions.js';
import type { Pool } from '../db/pool.js';
import { applySourceOfTruth, dependencyEdges, getComponent, listComponents } from '../db/sot.js';
import type { Component } from '../sot/definitions.js';
import { SotError, parseSourceOfTruth } from '../sot/definitions.js';
import { ApiError } from './errors.js';
import type { RouterDeps } from './deps.js';
import { route } from './http.js';

/** Deploy parameters that the component's deploy or rollback action declares secret are shown masked. */
async function masked(pool: Pool, components: Component[]): Promise<Component[]> {
  const secret = new Map<string, Set<string>>();
  const secretsOf = async (name: string | undefined) => {
    if (!name) return new Set<string>();
    if (!secret.has(name)) {
      const a = await getCurrentAction(pool, name);
      secret.set(
        name,
        new Set(
          Object.entries(a?.parameters.properties ?? {})
            .filter(([, p]) => p.secret)
            .map(([k]) => k),
        ),
      );
    }
    return secret.get(name)!;
  };
  const out: Component[] = [];
  for (const c of components) {
    const hidden = new Set([...(await secretsOf(c.actions.deploy)), ...(await secretsOf(c.actions.rollback))]);
    out.push({ ...c, deployParams: Object.fromEntries(Object.entries(c.deployParams).map(([k, v]) => [k, hidden.has(k) ? MASK : v])) });
  }
  return out;
}

export function componentsRouter({ pool, logger, http }: RouterDeps): Router {
  const router = Router();

  route(router, 'POST /api/v1/sot/apply', http, async (req, res) => {
    const body = (req.body ?? {}) as { files?: unknown; dryRun?: unknown };
    const files = body.files;
    if (
      !Array.isArray(files) ||
      files.length === 0 ||
      !files.every((f: { path?: unknown; content?: unknown }) => typeof f?.path === 'string' && typeof f.content === 'string')
    ) {
      throw new ApiError(400, 'invalid_request', 'files must be a non-empty array of {path, content} (the YAML definitions).');
    }
    let sot;
    try {
      sot = parseSourceOfTruth(files as { path: string; content: string }[]);
    } catch (err) {
      if (err instanceof SotError) throw new ApiError(400, 'invalid_definitions', err.message, err.problems);
      throw err;
    }
    const dryRun = body.dryRun === true;
    const changes = await applySourceOfTruth(pool, sot, dryRun);
    logger.info({ dryRun, changes: changes.length, components: sot.components.length }, 'source of truth applied');
    const count = (c: string) => changes.filter((x) => x.change === c).length;
    res.json({
      dryRun,
      changes,
      summary: {
        environments: sot.environments.length,
        regions: sot.regions.length,
        components: sot.components.length,
        added: count('added'),
        changed: count('changed'),
        removed: count('removed'),
      },
    });
  });

  route(router, 'GET /api/v1/components', http, async (_req, res) => {
    res.json({ components: await masked(pool, await listComponents(pool)) });
  });

  route(router, 'GET /api/v1/components/:name', http, async (req, res) => {
    const c = await getComponent(pool, req.params.name);
    if (!c) throw new ApiError(404, 'component_not_found', `no component named ${JSON.stringify(req.params.name)}; GET /api/v1/components lists them.`);
    res.json((await masked(pool, [c]))[0]);
  });

  route(router, 'GET /api/v1/components/:name/deps', http, async (req, res) => {
    const c = await getComponent(pool, req.params.name);
    if (!c) throw new ApiError(404, 'component_not_found', `no component named ${JSON.stringify(req.params.name)}.`);
    const reverse = req.query.reverse === 'true' || req.query.reverse === '1';
    const edges = await dependencyEdges(pool);
    const direct = reverse ? (invert(edges).get(c.name) ?? []).sort() : [...c.dependsOn].sort();
    res.json({ component: c.name, reverse, direct, transitive: closure(c.name, edges, reverse) });
  });
  return router;
}
