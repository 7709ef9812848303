/**
 * The audit trail: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and tamper-evident:
 * each row carries sha256(previous row's hash + this row's canonical content), so changing,
 * removing or inserting a row breaks the chain from there on, and `verifyAuditChain` names it.
 */
import crypto from 'node:crypto';
import type { AuditEntry } from '../common/api-types.js';
import { inTransaction, type Pool } from './pool.js';

export interface AuditInput {
  actor: string | null;
  role: string | null;
  keyId: string | null;
  /** What was attempted: the permission name of the route (`executions.run`, `apikeys.manage` …). */
  action: string;
  target: string | null;
  /** The request's parameters, secrets masked. */
  parameters: Record<string, unknown>;
  /** ok | denied | invalid | failed | unauthenticated */
  result: string;
  status: number;
  requestId: string;
  source: string | null;
}

/** A stored row: the API's AuditEntry (common/api-types). */
export type AuditRow = AuditEntry;

const GENESIS = '0'.repeat(64);

/** Canonical JSON: keys sorted at every level, so the hash does not depend on jsonb's key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

export function auditHash(prevHash: string, row: Omit<AuditRow, 'prevHash' | 'hash'>): string {
  const { seq, at, actor, role, keyId, action, target, parameters, result, status, requestId, source } = row;
  const content = canonical({ seq, at, actor, role, keyId, action, target, parameters, result, status, requestId, source });
  return crypto.createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}

/**
 * Appends one row, chained to the last; writers queue on an advisory lock so the chain stays linear.
 * With `once`, a row of the same action and request id is written at most once (an activity's retry).
 */
export async function appendAudit(pool: Pool, e: AuditInput, o: { once?: boolean } = {}): Promise<AuditRow | undefined> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['stackwire:audit']);
    if (o.once) {
      const dup = await client.query('SELECT 1 FROM audit_log WHERE request_id = $1 AND action = $2 LIMIT 1', [e.requestId, e.action]);
      if (dup.rowCount) return undefined;
    }
    const { rows } = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    const seq = rows.length ? Number(rows[0].seq) + 1 : 1;
    const prevHash = rows[0]?.hash ?? GENESIS;
    // Millisecond precision, as text: what is hashed is exactly what is stored and read back.
    const at = new Date().toISOString();
    const row = { ...e, seq, at };
    const hash = auditHash(prevHash, row);
    await client.query(
      `INSERT INTO audit_log (seq, at, actor, role, key_id, action, target, parameters, result, status, request_id, source, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [seq, at, e.actor, e.role, e.keyId, e.action, e.target, JSON.stringify(e.parameters), e.result, e.status, e.requestId, e.source, prevHash, hash],
    );
    return { ...row, prevHash, hash };
  });
}

const COLUMNS = `seq::int AS seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, actor, role, key_id AS "keyId", action, target,
  parameters, result, status, request_id AS "requestId", source, prev_hash AS "prevHash", hash`;

export async function listAudit(
  db: Pool,
  q: { actor?: string | undefined; action?: string | undefined; since?: Date | undefined; limit: number },
): Promise<AuditRow[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT ${COLUMNS} FROM audit_log
     WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) AND ($3::timestamptz IS NULL OR at >= $3)
     ORDER BY seq DESC LIMIT $4`,
    [q.actor ?? null, q.action ?? null, q.since ?? null, q.limit],
  );
  return rows;
}

/** Walks the whole chain in order; the first row whose link or content does not hash right is named. */
export async function verifyAuditChain(db: Pool): Promise<{ ok: boolean; checked: number; broken?: { seq: number; reason: string } }> {
  let prev = GENESIS;
  let expectedSeq = 1;
  let checked = 0;
  for (let after = 0; ;) {
    const { rows } = await db.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000`, [after]);
    if (rows.length === 0) return { ok: true, checked };
    for (const r of rows) {
      if (r.seq !== expectedSeq) return { ok: false, checked, broken: { seq: r.seq, reason: `rows ${expectedSeq}…${r.seq - 1} are missing` } };
      if (r.prevHash !== prev) return { ok: false, checked, broken: { seq: r.seq, reason: 'its link to the previous row does not match that row’s hash' } };
      const { prevHash: _p, hash, ...content } = r;
      if (auditHash(prev, content) !== hash)
        return { ok: false, checked, broken: { seq: r.seq, reason: 'its content does not match its hash (the row was changed)' } };
      prev = hash;
      expectedSeq++;
      checked++;
      after = r.seq;
    }
  }
}
