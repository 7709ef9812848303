/** API keys: only a salt and a scrypt hash of each key's secret are stored; the key itself never is. */
import type { Pool } from './pool.js';

import type { ApiKeyScopes, Role } from '../common/api-types.js';

export type { Role } from '../common/api-types.js';
/** Packs the key may run and ingest, environments it may deploy to and approve in; an absent list: all. */
export type KeyScopes = ApiKeyScopes;

export interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  scopes: KeyScopes;
  description: string;
  rateLimit: number | null;
  salt: Buffer;
  hash: Buffer;
  createdAt: Date;
  createdBy: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  lastUsedAt: Date | null;
}

const COLUMNS = `id, name, role, scopes, description, rate_limit AS "rateLimit", salt, hash, created_at AS "createdAt", created_by AS "createdBy",
  expires_at AS "expiresAt", revoked_at AS "revokedAt", revoked_by AS "revokedBy", last_used_at AS "lastUsedAt"`;

export async function insertApiKey(
  db: Pool,
  k: Pick<ApiKeyRow, 'id' | 'name' | 'role' | 'scopes' | 'description' | 'rateLimit' | 'salt' | 'hash' | 'createdBy' | 'expiresAt'>,
): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, name, role, scopes, description, rate_limit, salt, hash, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [k.id, k.name, k.role, JSON.stringify(k.scopes), k.description, k.rateLimit, k.salt, k.hash, k.createdBy, k.expiresAt],
  );
  return rows[0];
}

export async function getApiKey(db: Pool, id: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return rows[0];
}

export async function listApiKeys(db: Pool): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at`);
  return rows;
}

/** Revokes a key; answers undefined for an unknown id. Revoking twice keeps the first time. */
export async function revokeApiKey(db: Pool, id: string, by: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, $2) WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, by],
  );
  return rows[0];
}

export async function touchApiKey(db: Pool, id: string): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}

/** Whether any admin key that still works exists (npm start creates one when none does). */
export async function hasActiveAdminKey(db: Pool): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) LIMIT 1");
  return rows.length > 0;
}
