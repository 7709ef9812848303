/**
 * A pack's state besides its files: its config values (`stackwire pack config`), its actions'
 * datastore (st2's action_service), and its removal. Secret values arrive sealed and stay sealed here.
 */
import type { Pool, PoolClient } from './pool.js';

export interface PackConfigRow {
  key: string;
  value: unknown;
  secret: boolean;
  setBy: string | null;
  updatedAt: string;
}

export async function packConfigRows(db: Pool | PoolClient, pack: string): Promise<PackConfigRow[]> {
  const { rows } = await db.query<{ key: string; value: unknown; secret: boolean; set_by: string | null; updated_at: Date }>(
    'SELECT key, value, secret, set_by, updated_at FROM pack_config WHERE pack = $1 ORDER BY key',
    [pack],
  );
  return rows.map((r) => ({ key: r.key, value: r.value, secret: r.secret, setBy: r.set_by, updatedAt: r.updated_at.toISOString() }));
}

/** Sets and unsets keys in one transaction (all or nothing). */
export async function writePackConfig(
  client: PoolClient,
  pack: string,
  set: { key: string; value: unknown; secret: boolean }[],
  unset: string[],
  actor: string,
): Promise<void> {
  for (const s of set)
    await client.query(
      `INSERT INTO pack_config (pack, key, value, secret, set_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (pack, key) DO UPDATE SET value = EXCLUDED.value, secret = EXCLUDED.secret, set_by = EXCLUDED.set_by, updated_at = now()`,
      [pack, s.key, JSON.stringify(s.value), s.secret, actor],
    );
  if (unset.length) await client.query('DELETE FROM pack_config WHERE pack = $1 AND key = ANY($2::text[])', [pack, unset]);
}

export interface DatastoreRow {
  name: string;
  value: unknown;
  secret: boolean;
  expiresAt: string | null;
  updatedAt: string;
}

type RawRow = { name: string; value: unknown; secret: boolean; expires_at: Date | null; updated_at: Date };
const row = (r: RawRow): DatastoreRow => ({
  name: r.name,
  value: r.value,
  secret: r.secret,
  expiresAt: r.expires_at?.toISOString() ?? null,
  updatedAt: r.updated_at.toISOString(),
});
const LIVE = '(expires_at IS NULL OR expires_at > now())';

export async function datastoreGet(db: Pool, pack: string, name: string): Promise<DatastoreRow | undefined> {
  const { rows } = await db.query<RawRow>(`SELECT * FROM datastore WHERE pack = $1 AND name = $2 AND ${LIVE}`, [pack, name]);
  return rows[0] ? row(rows[0]) : undefined;
}

/** Names with a prefix (the LIKE wildcards in it are literal), in order. */
export async function datastoreList(db: Pool, pack: string, prefix: string, limit: number, offset: number): Promise<DatastoreRow[]> {
  const like = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const { rows } = await db.query<RawRow>(`SELECT * FROM datastore WHERE pack = $1 AND name LIKE $2 AND ${LIVE} ORDER BY name LIMIT $3 OFFSET $4`, [
    pack,
    like,
    limit,
    offset,
  ]);
  return rows.map(row);
}

export async function datastoreSet(db: Pool, pack: string, name: string, value: unknown, secret: boolean, ttlSeconds: number | null): Promise<void> {
  await db.query(
    `INSERT INTO datastore (pack, name, value, secret, expires_at) VALUES ($1, $2, $3, $4, CASE WHEN $5::int IS NULL THEN NULL ELSE now() + make_interval(secs => $5::int) END)
     ON CONFLICT (pack, name) DO UPDATE SET value = EXCLUDED.value, secret = EXCLUDED.secret, expires_at = EXCLUDED.expires_at, updated_at = now()`,
    [pack, name, JSON.stringify(value), secret, ttlSeconds],
  );
}

/** True when a live key was deleted. Expired rows of the pack go at the same time. */
export async function datastoreDelete(db: Pool, pack: string, name: string): Promise<boolean> {
  const { rows } = await db.query<{ live: boolean }>(
    `DELETE FROM datastore WHERE pack = $1 AND (name = $2 OR NOT ${LIVE}) RETURNING name = $2 AND ${LIVE} AS live`,
    [pack, name],
  );
  return rows.some((r) => r.live);
}

/** Marks a pack and its current actions removed (versions, runs and history stay). False: no such live pack. */
export async function removePack(client: PoolClient, pack: string, actor: string): Promise<{ removed: boolean; actions: string[] }> {
  const { rowCount } = await client.query('UPDATE packs SET removed_at = now(), removed_by = $2 WHERE name = $1 AND removed_at IS NULL', [pack, actor]);
  if (!rowCount) return { removed: false, actions: [] };
  const { rows } = await client.query<{ name: string }>(
    'UPDATE actions SET removed_at = now() WHERE pack = $1 AND is_current AND removed_at IS NULL RETURNING name',
    [pack],
  );
  return { removed: true, actions: rows.map((r) => r.name).sort() };
}
