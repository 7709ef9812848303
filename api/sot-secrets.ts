/** The secrets the source of truth refers to (`secret:<name>`) over HTTP: set (sealed), listed by name, deleted. */
import { Router } from 'express';
import { deleteSotSecret, listSotSecrets, setSotSecret } from '../db/sot-secrets.js';
import { seal } from '../lib/secrets.js';
import { ApiError } from './errors.js';
import type { RouterDeps } from './deps.js';
import { principal, route } from './http.js';

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export function sotSecretsRouter({ pool, config, http }: RouterDeps): Router {
  const router = Router();
  const named = (name: string) => {
    if (!NAME.test(name))
      throw new ApiError(400, 'invalid_request', `secret name ${JSON.stringify(name)}: lower-case letters, digits, _ . - (as in secret:<name>)`);
    return name;
  };
  route(router, 'GET /api/v1/sot/secrets', http, async (_req, res) => {
    res.json({ secrets: await listSotSecrets(pool) });
  });
  route(router, 'PUT /api/v1/sot/secrets/:name', http, async (req, res) => {
    const name = named(req.params.name);
    if (!config.secretKey)
      throw new ApiError(400, 'secret_key_missing', 'STACKWIRE_SECRET_KEY is not set on the API, so the secret cannot be sealed; nothing was stored.');
    await setSotSecret(pool, name, seal((req.body as { value: string }).value, config.secretKey), principal(req).actor);
    req.audit = { target: `secret:${name}`, parameters: {} };
    res.json({ name, stored: true });
  });
  route(router, 'DELETE /api/v1/sot/secrets/:name', http, async (req, res) => {
    const name = named(req.params.name);
    if (!(await deleteSotSecret(pool, name))) throw new ApiError(404, 'secret_not_found', `no secret ${name}; GET /api/v1/sot/secrets lists them.`);
    req.audit = { target: `secret:${name}`, parameters: {} };
    res.json({ name, deleted: true });
  });
  return router;
}
