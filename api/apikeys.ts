/** API keys over HTTP (admin): create (the key is in the answer, once), list (never the key), revoke. */
import { Router } from 'express';
import { insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow, type KeyScopes, type Role } from '../db/apikeys.js';
import { newApiKey } from '../lib/api-keys.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import type { ApiKeyCreateResponse, ApiKeyListResponse, ApiKeyRevokeResponse, ApiKeyView } from '../common/api-types.js';

export function keyView(k: ApiKeyRow): ApiKeyView {
  const status = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt.getTime() <= Date.now() ? 'expired' : 'active';
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    scopes: k.scopes,
    description: k.description,
    rateLimitPerMinute: k.rateLimit,
    createdAt: k.createdAt.toISOString(),
    createdBy: k.createdBy,
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    revokedBy: k.revokedBy,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    status,
  };
}

/** Creates a key; used by the route and by `npm start`'s first-start admin key. */
export async function createKey(
  deps: Pick<RouterDeps, 'pool'>,
  o: { name: string; role: Role; scopes?: KeyScopes; description?: string; expiresInSeconds?: number | null; rateLimitPerMinute?: number; createdBy: string },
): Promise<{ row: ApiKeyRow; key: string }> {
  const k = await newApiKey();
  const expires = o.expiresInSeconds === undefined ? 90 * 86400 : o.expiresInSeconds;
  const row = await insertApiKey(deps.pool, {
    id: k.id,
    name: o.name,
    role: o.role,
    scopes: o.scopes ?? {},
    description: o.description ?? '',
    rateLimit: o.rateLimitPerMinute ?? null,
    salt: k.salt,
    hash: k.hash,
    createdBy: o.createdBy,
    expiresAt: expires === null ? null : new Date(Date.now() + expires * 1000),
  });
  return { row, key: k.key };
}

export function apiKeysRouter(deps: RouterDeps): Router {
  const router = Router();
  const { http } = deps;

  route(router, 'POST /api/v1/apikeys', http, async (req, res) => {
    const b = req.body as { name: string; role: Role; scopes?: KeyScopes; description?: string; expiresInSeconds?: number | null; rateLimitPerMinute?: number };
    for (const [field, list] of [
      ['packs', b.scopes?.packs],
      ['environments', b.scopes?.environments],
    ] as const) {
      if (list && list.length === 0)
        throw new ApiError(400, 'invalid_request', `scopes.${field} is empty: leave it out for all ${field}, or name at least one.`);
    }
    const { row, key } = await createKey(deps, { ...b, createdBy: principal(req).actor });
    req.audit = {
      target: `apikey:${row.id}`,
      parameters: { name: b.name, role: b.role, scopes: b.scopes ?? {}, expiresAt: row.expiresAt?.toISOString() ?? null },
    };
    deps.logger.info({ keyId: row.id, name: row.name, role: row.role, by: principal(req).actor }, 'api key created');
    res.status(201).json({ ...keyView(row), key } satisfies ApiKeyCreateResponse);
  });

  route(router, 'GET /api/v1/apikeys', http, async (_req, res) => {
    res.json({ apikeys: (await listApiKeys(deps.pool)).map(keyView) } satisfies ApiKeyListResponse);
  });

  route(router, 'POST /api/v1/apikeys/:id/revoke', http, async (req, res) => {
    req.audit = { target: `apikey:${req.params.id}`, parameters: {} };
    const row = await revokeApiKey(deps.pool, req.params.id, principal(req).actor);
    if (!row) throw new ApiError(404, 'apikey_not_found', `no API key ${JSON.stringify(req.params.id)}; GET /api/v1/apikeys lists them.`);
    deps.logger.info({ keyId: row.id, by: principal(req).actor }, 'api key revoked');
    res.json({ id: row.id, revokedAt: row.revokedAt!.toISOString(), revokedBy: row.revokedBy } satisfies ApiKeyRevokeResponse);
  });
  return router;
}
