/**
 * Who is calling: `Authorization: Bearer swk_<id>_<secret>`. The key's row is read on every request
 * (so a revocation or an expiry takes effect at once); the scrypt check of its secret is remembered
 * per process for keys that passed it, so only a key's first request pays for it.
 */
import crypto from 'node:crypto';
import type { Request } from 'express';
import { getApiKey, touchApiKey } from '../../db/apikeys.js';
import type { Pool } from '../../db/pool.js';
import { parseApiKey, secretMatches } from '../../lib/api-keys.js';
import { ApiError } from '../errors.js';
import type { Principal } from './permissions.js';
import { SESSION_COOKIE, cookieValue, type SessionSigner } from './sessions.js';

type KeyRow = NonNullable<Awaited<ReturnType<typeof getApiKey>>>;

export class Authenticator {
  /** sha256 of a presented key → key id, for keys whose secret matched. Memory only. */
  private readonly verified = new Map<string, string>();
  private readonly touched = new Map<string, number>();

  constructor(private readonly pool: Pool) {}

  /**
   * The caller of a request. With `sessions`, a browser session cookie is accepted too (when there is
   * no Authorization header): the Web UI's routes and the codec endpoint.
   */
  async authenticate(req: Request, sessions?: SessionSigner): Promise<Principal> {
    const header = req.header('authorization');
    const cookie = sessions && !header ? cookieValue(req.header('cookie'), SESSION_COOKIE) : undefined;
    if (cookie !== undefined) {
      const p = await this.principalOf(await getApiKey(this.pool, sessions!.verify(cookie, 'session')));
      return { ...p, via: 'session' };
    }
    if (!header) {
      throw new ApiError(
        401,
        'unauthenticated',
        'no API key: send `Authorization: Bearer <key>` (the CLI reads STACKWIRE_API_KEY or its credentials file; an admin creates keys with `stackwire apikey create`).',
      );
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const parsed = m ? parseApiKey(m[1]) : undefined;
    if (!m || !parsed) throw new ApiError(401, 'unauthenticated', 'the Authorization header is not `Bearer swk_…`: give a Stackwire API key.');
    return this.authenticateKey(m[1]);
  }

  /** A presented key (`swk_…`): its secret checked, then its row as for every request. */
  async authenticateKey(key: string): Promise<Principal> {
    const parsed = parseApiKey(key);
    if (!parsed) throw new ApiError(401, 'unauthenticated', 'that is not a Stackwire API key (swk_…).');
    const row = await getApiKey(this.pool, parsed.id);
    const digest = crypto.createHash('sha256').update(key).digest('hex');
    if (!row) throw new ApiError(401, 'unauthenticated', 'the API key is not valid.');
    if (this.verified.get(digest) !== row.id) {
      if (!(await secretMatches(parsed.secret, row.salt, row.hash))) throw new ApiError(401, 'unauthenticated', 'the API key is not valid.');
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(digest, row.id);
    }
    return this.principalOf(row);
  }

  /** A key by id, for a signed token that names it (a sign-in link): its row as for every request. */
  async authenticateKeyId(id: string): Promise<Principal> {
    return this.principalOf(await getApiKey(this.pool, id));
  }

  /** Revoked and expired keys are refused here, on every request, whatever carried them. */
  private async principalOf(row: KeyRow | undefined): Promise<Principal> {
    if (!row) throw new ApiError(401, 'unauthenticated', 'the API key is not valid.');
    if (row.revokedAt)
      throw new ApiError(401, 'unauthenticated', `the API key ${row.id} was revoked on ${row.revokedAt.toISOString()}; ask an admin for a new one.`);
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
      throw new ApiError(401, 'unauthenticated', `the API key ${row.id} expired on ${row.expiresAt.toISOString()}; ask an admin for a new one.`);
    }
    // last_used_at, at most once a minute per key.
    const now = Date.now();
    if ((this.touched.get(row.id) ?? 0) < now - 60_000) {
      this.touched.set(row.id, now);
      await touchApiKey(this.pool, row.id);
    }
    return { actor: row.name, role: row.role, keyId: row.id, scopes: row.scopes, expiresAt: row.expiresAt, rateLimit: row.rateLimit };
  }
}
