/** Declared generic webhooks: name, how a delivery proves itself (sealed HMAC secret, or a token's hash), the header. */
import type { Queryable } from './pool.js';

export interface WebhookRow {
  name: string;
  auth: 'hmac' | 'token';
  /** The sealed HMAC secret (JSON of lib/secrets Sealed). */
  secret: string | null;
  tokenSha256: string | null;
  header: string;
  description: string;
  createdBy: string;
  createdAt: Date;
}

interface Raw {
  name: string;
  auth: 'hmac' | 'token';
  secret: string | null;
  token_sha256: string | null;
  header: string;
  description: string;
  created_by: string;
  created_at: Date;
}

const toRow = (r: Raw): WebhookRow => ({
  name: r.name,
  auth: r.auth,
  secret: r.secret,
  tokenSha256: r.token_sha256,
  header: r.header,
  description: r.description,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

/** Declares one; false when the name is taken. */
export async function insertWebhook(db: Queryable, w: Omit<WebhookRow, 'createdAt'>): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO webhooks (name, auth, secret, token_sha256, header, description, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (name) DO NOTHING`,
    [w.name, w.auth, w.secret, w.tokenSha256, w.header, w.description, w.createdBy],
  );
  return r.rowCount === 1;
}

export async function getWebhook(db: Queryable, name: string): Promise<WebhookRow | undefined> {
  const { rows } = await db.query<Raw>(`SELECT * FROM webhooks WHERE name = $1`, [name]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

export async function listWebhooks(db: Queryable): Promise<WebhookRow[]> {
  const { rows } = await db.query<Raw>(`SELECT * FROM webhooks ORDER BY name`);
  return rows.map(toRow);
}

export async function deleteWebhook(db: Queryable, name: string): Promise<boolean> {
  const r = await db.query(`DELETE FROM webhooks WHERE name = $1`, [name]);
  return r.rowCount === 1;
}
