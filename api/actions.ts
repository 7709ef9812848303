/** Read-only catalog endpoints: what can be run, with its parameters and an example command line. */
import { Router } from 'express';
import { maskArgv } from '../common/argv.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction, listActions } from '../db/actions.js';
import type { RouterDeps } from './deps.js';
import { route } from './http.js';
import { ApiError } from './errors.js';

/** Example values: defaults, else the first enum value, else a placeholder of the right type. */
export function exampleParameters(action: ActionSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(action.parameters.properties)) {
    if (s.default !== undefined) out[name] = s.default;
    else if (s.enum?.length) out[name] = s.enum[0];
    else if (!action.parameters.required.includes(name)) continue;
    else
      out[name] =
        s.type === 'integer' || s.type === 'number' ? (s.minimum ?? 1) : s.type === 'boolean' ? true : s.type === 'array' ? [`<${name}>`] : `<${name}>`;
  }
  return out;
}

function view(action: ActionSpec) {
  return { ...action, exampleArgv: maskArgv(action, exampleParameters(action)) };
}

export function actionsRouter({ pool, http }: RouterDeps): Router {
  const router = Router();
  route(router, 'GET /api/v1/actions', http, async (req, res) => {
    const pack = typeof req.query.pack === 'string' ? req.query.pack : undefined;
    res.json({ actions: (await listActions(pool, pack)).map(view) });
  });
  route(router, 'GET /api/v1/actions/:name', http, async (req, res) => {
    const action = await getCurrentAction(pool, req.params.name);
    if (!action) throw new ApiError(404, 'action_not_found', `no action named ${JSON.stringify(req.params.name)}; GET /api/v1/actions lists the catalog.`);
    res.json(view(action));
  });
  return router;
}
