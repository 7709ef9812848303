/**
 * Trigger instances and the runs they started (`stackwire trace`), and the outbox of events sensors
 * emit: a worker writes a `pending` row and notifies; the API, which holds the rule index, dispatches it.
 */
import crypto from 'node:crypto';
import type { TriggerRecord, TriggerRun } from '../common/api-types.js';
import type { Queryable } from './pool.js';

/** Channel the API listens on for new pending trigger instances. */
export const TRIGGERS_CHANNEL = 'stackwire_triggers';

export interface NewTrigger {
  id: string;
  type: string;
  source: string;
  deliveryId: string | null;
  payload: unknown;
  /** What outlives the payload (dropped once dispatched): for a push, the pushed commit, its timestamp and author. */
  metadata?: Record<string, unknown> | null;
}

interface Row {
  id: string;
  type: string;
  source: string;
  delivery_id: string | null;
  payload_digest: string;
  payload_size: number;
  payload: unknown;
  received_at: Date;
  status: TriggerRecord['status'];
  note: string | null;
  matched: TriggerRecord['matched'];
  dispatched_at: Date | null;
  metadata: Record<string, unknown> | null;
}

/** The payload as canonical JSON (keys sorted), so the same event has the same digest whoever sent it. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

export function payloadDigest(payload: unknown): { digest: string; size: number } {
  const text = canonicalJson(payload) ?? 'null';
  return { digest: `sha256:${crypto.createHash('sha256').update(text).digest('hex')}`, size: Buffer.byteLength(text) };
}

/**
 * Records a trigger instance — `pending` (the outbox: the dispatcher will take it) or `received` (its
 * dispatch is under way now); false when one with this id exists (a redelivery).
 */
export async function insertTrigger(db: Queryable, t: NewTrigger, status: 'pending' | 'received' = 'pending'): Promise<boolean> {
  const { digest, size } = payloadDigest(t.payload);
  const r = await db.query(
    `INSERT INTO triggers (id, type, source, delivery_id, payload_digest, payload_size, payload, status, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
    [t.id, t.type, t.source, t.deliveryId, digest, size, JSON.stringify(t.payload ?? null), status, t.metadata ? JSON.stringify(t.metadata) : null],
  );
  return r.rowCount === 1;
}

/** Records many (a sensor's events) and wakes the dispatcher; returns the ids that were new. */
export async function insertPendingTriggers(db: Queryable, ts: NewTrigger[]): Promise<string[]> {
  const fresh: string[] = [];
  for (const t of ts) if (await insertTrigger(db, t)) fresh.push(t.id);
  if (fresh.length) await db.query(`SELECT pg_notify($1, $2)`, [TRIGGERS_CHANNEL, String(fresh.length)]);
  return fresh;
}

/**
 * Claims undispatched instances, oldest first: pending ones, and received ones whose dispatch was cut
 * off (begun more than `staleSeconds` ago: their process died). Marked received, `dispatched_at` = when
 * this dispatch began (the finish sets it again), so another dispatcher skips them meanwhile.
 */
export async function claimUndispatched(db: Queryable, limit: number, staleSeconds: number): Promise<NewTrigger[]> {
  const { rows } = await db.query<Row>(
    `UPDATE triggers SET status = 'received', dispatched_at = now()
     WHERE id IN (
       SELECT id FROM triggers
       WHERE status = 'pending' OR (status = 'received' AND coalesce(dispatched_at, received_at) < now() - make_interval(secs => $2))
       ORDER BY received_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [limit, staleSeconds],
  );
  return rows
    .sort((a, b) => a.received_at.getTime() - b.received_at.getTime())
    .map((r) => ({ id: r.id, type: r.type, source: r.source, deliveryId: r.delivery_id, payload: r.payload, metadata: r.metadata }));
}

/** What a dispatch did: its matches and runs; the payload is dropped (its digest stays). */
export async function finishTrigger(
  db: Queryable,
  id: string,
  outcome: { status: 'dispatched' | 'failed'; note: string | null; matched: TriggerRecord['matched']; runs: TriggerRun[] },
): Promise<void> {
  // One statement (one round trip, atomic): the instance's outcome and its runs.
  await db.query(
    `WITH done AS (
       UPDATE triggers SET status = $2, note = $3, matched = $4, payload = NULL, dispatched_at = now() WHERE id = $1 RETURNING id)
     INSERT INTO trigger_runs (trigger_id, workflow_id, kind, rule, error)
     SELECT done.id, r."workflowId", r.kind, r.rule, r.error FROM done, jsonb_to_recordset($5::jsonb) AS r("workflowId" text, kind text, rule text, error text)
     ON CONFLICT (trigger_id, workflow_id) DO UPDATE SET error = EXCLUDED.error`,
    [id, outcome.status, outcome.note, JSON.stringify(outcome.matched), JSON.stringify(outcome.runs)],
  );
}

function toRecord(r: Row, runs: TriggerRun[]): TriggerRecord {
  return {
    id: r.id,
    type: r.type,
    source: r.source,
    deliveryId: r.delivery_id,
    payloadDigest: r.payload_digest,
    payloadSize: r.payload_size,
    receivedAt: r.received_at.toISOString(),
    status: r.status,
    note: r.note,
    matched: r.matched,
    dispatchedAt: r.dispatched_at?.toISOString() ?? null,
    metadata: r.metadata,
    runs,
  };
}

async function runsOf(db: Queryable, ids: string[]): Promise<Map<string, TriggerRun[]>> {
  const out = new Map<string, TriggerRun[]>(ids.map((id) => [id, []]));
  if (!ids.length) return out;
  const { rows } = await db.query<{ trigger_id: string; workflow_id: string; kind: string; rule: string | null; error: string | null }>(
    `SELECT * FROM trigger_runs WHERE trigger_id = ANY($1::text[]) ORDER BY workflow_id`,
    [ids],
  );
  for (const r of rows)
    out.get(r.trigger_id)!.push({ workflowId: r.workflow_id, kind: r.kind, ...(r.rule ? { rule: r.rule } : {}), ...(r.error ? { error: r.error } : {}) });
  return out;
}

export async function getTrigger(db: Queryable, id: string): Promise<TriggerRecord | undefined> {
  const { rows } = await db.query<Row>(`SELECT * FROM triggers WHERE id = $1`, [id]);
  if (!rows[0]) return undefined;
  return toRecord(rows[0], (await runsOf(db, [id])).get(id)!);
}

/** The trigger that started a run (by the run's workflow id). */
export async function triggerOfRun(db: Queryable, workflowId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ trigger_id: string }>(`SELECT trigger_id FROM trigger_runs WHERE workflow_id = $1 LIMIT 1`, [workflowId]);
  return rows[0]?.trigger_id;
}

export async function listTriggers(db: Queryable, f: { type?: string; source?: string; limit: number }): Promise<TriggerRecord[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM triggers WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR source = $2) ORDER BY received_at DESC, id LIMIT $3`,
    [f.type ?? null, f.source ?? null, f.limit],
  );
  const runs = await runsOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toRecord(r, runs.get(r.id)!));
}
