/** The audit trail over HTTP (admin): list, newest first, and verify the hash chain. */
import { Router } from 'express';
import { listAudit, verifyAuditChain } from '../db/audit.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { route } from './http.js';
import type { AuditListResponse, AuditVerifyResponse } from '../common/api-types.js';

/** `2026-12-01`, an ISO time, or a duration back from now (`24h`, `7d`, `30m`). */
export function parseSince(s: string, now = Date.now()): Date | undefined {
  const m = /^(\d{1,6})([mhd])$/.exec(s);
  if (m) return new Date(now - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t);
}

export function auditRouter({ pool, http }: RouterDeps): Router {
  const router = Router();
  route(router, 'GET /api/v1/audit', http, async (req, res) => {
    const q = req.query as { actor?: string; action?: string; since?: string; limit?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (limit < 1 || limit > 10000) throw new ApiError(400, 'invalid_request', 'limit is a whole number from 1 to 10000.');
    const since = q.since === undefined ? undefined : parseSince(q.since);
    if (q.since !== undefined && !since)
      throw new ApiError(400, 'invalid_request', `since ${JSON.stringify(q.since)} is neither a date (2026-12-01, an ISO time) nor a duration (24h, 7d).`);
    res.json({ entries: await listAudit(pool, { actor: q.actor, action: q.action, since, limit }) } satisfies AuditListResponse);
  });
  route(router, 'GET /api/v1/audit/verify', http, async (_req, res) => {
    res.json((await verifyAuditChain(pool)) satisfies AuditVerifyResponse);
  });
  return router;
}
