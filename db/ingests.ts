/**
 * Ingest reports (table `ingests`, one row an ingest, and `ingest_items`, its actions, warnings,
 * unsupported files and changed files): written by the ingest activity in the transaction that applies
 * the pack, read by the API a page at a time.
 */
import type { IngestReport } from '../common/api-types.js';
import type { IngestItem, IngestItemKind, IngestStatus, IngestSummary, IngestView } from '../common/api-types-ingest.js';
import type { Pool, Queryable } from './pool.js';

/** Rows a statement inserts at most (20,000 items take 10 statements). */
const ITEM_BATCH = 2000;

export interface IngestStart {
  id: string;
  pack: string;
  mode: string;
  source: Record<string, unknown>;
  actor: string | null;
  region: string | null;
  manifestBlob?: string | null;
}

/** Records an ingest as running (the API, before its workflow starts; a no-op when the row exists). */
export async function createIngest(db: Queryable, s: IngestStart): Promise<void> {
  await db.query(
    `INSERT INTO ingests (id, pack, mode, source, status, actor, region, manifest_blob) VALUES ($1, $2, $3, $4, 'running', $5, $6, $7)
     ON CONFLICT (id) DO NOTHING`,
    [s.id, s.pack, s.mode, JSON.stringify(s.source), s.actor, s.region, s.manifestBlob ?? null],
  );
}

/** The summary of a full report (what the workflow returns). */
export function summarize(id: string, r: IngestReport): IngestSummary {
  return {
    id,
    pack: r.pack,
    mode: r.mode,
    source: r.source,
    ...(r.packVersion ? { packVersion: r.packVersion } : {}),
    files: r.files,
    summary: r.summary,
    fileChanges: { added: r.fileChanges.added.length, changed: r.fileChanges.changed.length, removed: r.fileChanges.removed.length },
    drift: r.drift,
  };
}

type NewItem = { kind: IngestItemKind; item: Record<string, unknown> };

function itemsOf(r: IngestReport): NewItem[] {
  const yaml = new Map(r.actions.map((a) => [a.name, a]));
  const out: NewItem[] = [];
  for (const c of r.changes) {
    const a = yaml.get(c.name);
    out.push({ kind: 'action', item: { ...c, ...(a ? { sourcePath: a.sourcePath, framework: a.framework, yaml: a.yaml } : {}) } });
  }
  for (const w of r.warnings) out.push({ kind: 'warning', item: { file: w.file, line: w.line, message: w.message } });
  for (const u of r.unsupported) out.push({ kind: 'unsupported', item: { file: u.file, reason: u.reason } });
  for (const change of ['added', 'changed', 'removed'] as const) for (const p of r.fileChanges[change]) out.push({ kind: 'file', item: { path: p, change } });
  return out;
}

/**
 * Writes a finished ingest's report: the row (created when missing, e.g. an ingest started by a push)
 * and its items, replacing those of an earlier attempt. Run in the transaction that applies the pack,
 * so the report and the catalog never disagree.
 */
export async function recordIngestReport(
  db: Queryable,
  start: Omit<IngestStart, 'pack' | 'mode' | 'source'>,
  report: IngestReport,
  beat?: (done: number, total: number) => void,
): Promise<IngestSummary> {
  const s = summarize(start.id, report);
  await createIngest(db, { ...start, pack: report.pack, mode: report.mode, source: report.source });
  await db.query('DELETE FROM ingest_items WHERE ingest_id = $1', [start.id]);
  const items = itemsOf(report);
  for (let i = 0; i < items.length; i += ITEM_BATCH) {
    const slice = items.slice(i, i + ITEM_BATCH);
    await db.query(
      `INSERT INTO ingest_items (ingest_id, seq, kind, item)
       SELECT $1, s.seq, s.kind, s.item FROM unnest($2::int[], $3::text[], $4::jsonb[]) AS s(seq, kind, item)`,
      [start.id, slice.map((_, j) => i + j + 1), slice.map((x) => x.kind), slice.map((x) => JSON.stringify(x.item))],
    );
    beat?.(i + slice.length, items.length);
  }
  await db.query(
    `UPDATE ingests SET status = 'succeeded', source = $2, files = $3, summary = $4, file_changes = $5, drift = $6, pack_version = $7,
            manifest_hash = $8, error = NULL, finished_at = now()
     WHERE id = $1`,
    [
      start.id,
      JSON.stringify(report.source),
      s.files,
      JSON.stringify(s.summary),
      JSON.stringify(s.fileChanges),
      s.drift,
      s.packVersion?.version ?? null,
      s.packVersion?.manifestHash ?? null,
    ],
  );
  return s;
}

/** Records that an ingest failed (nothing was changed); creates the row when it is missing. */
export async function recordIngestFailure(db: Queryable, start: IngestStart, error: string): Promise<void> {
  await createIngest(db, start);
  await db.query(`UPDATE ingests SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'running'`, [start.id, error]);
}

interface IngestRow {
  id: string;
  pack: string;
  mode: IngestSummary['mode'];
  source: Record<string, unknown>;
  status: IngestStatus;
  actor: string | null;
  region: string | null;
  files: number | null;
  summary: IngestSummary['summary'] | null;
  file_changes: IngestSummary['fileChanges'] | null;
  drift: boolean | null;
  pack_version: number | null;
  manifest_hash: string | null;
  error: string | null;
  created_at: Date;
  finished_at: Date | null;
  counts: Partial<Record<IngestItemKind, number>> | null;
}

export async function getIngest(db: Pool, id: string): Promise<IngestView | undefined> {
  const { rows } = await db.query<IngestRow>(
    `SELECT i.*, (SELECT jsonb_object_agg(kind, n) FROM (SELECT kind, count(*)::int AS n FROM ingest_items WHERE ingest_id = i.id GROUP BY kind) k) AS counts
     FROM ingests i WHERE i.id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    workflowId: r.id,
    pack: r.pack,
    mode: r.mode,
    source: r.source,
    status: r.status,
    actor: r.actor,
    region: r.region,
    createdAt: r.created_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
    ...(r.pack_version !== null && r.manifest_hash ? { packVersion: { pack: r.pack, version: r.pack_version, manifestHash: r.manifest_hash } } : {}),
    ...(r.files !== null ? { files: r.files } : {}),
    ...(r.summary ? { summary: r.summary } : {}),
    ...(r.file_changes ? { fileChanges: r.file_changes } : {}),
    ...(r.drift !== null ? { drift: r.drift } : {}),
    ...(r.error ? { error: r.error } : {}),
    items: { action: 0, warning: 0, unsupported: 0, file: 0, ...(r.counts ?? {}) },
  };
}

/** The summary of an ingest whose report is recorded (a retried activity whose first attempt committed finds it). */
export async function recordedSummary(db: Pool, id: string): Promise<IngestSummary | undefined> {
  const v = await getIngest(db, id);
  if (!v || v.status !== 'succeeded' || !v.summary || !v.fileChanges || v.files === undefined || v.drift === undefined) return undefined;
  return {
    id,
    pack: v.pack,
    mode: v.mode,
    source: v.source,
    ...(v.packVersion ? { packVersion: v.packVersion } : {}),
    files: v.files,
    summary: v.summary,
    fileChanges: v.fileChanges,
    drift: v.drift,
  };
}

/** A page of a report's items after `after` (a seq), optionally of one kind. */
export async function listIngestItems(db: Pool, id: string, q: { kind?: IngestItemKind; after: number; limit: number }): Promise<IngestItem[]> {
  const { rows } = await db.query<{ seq: number; kind: IngestItemKind; item: Record<string, unknown> }>(
    `SELECT seq, kind, item FROM ingest_items WHERE ingest_id = $1 AND seq > $2 AND ($3::text IS NULL OR kind = $3) ORDER BY seq LIMIT $4`,
    [id, q.after, q.kind ?? null, q.limit],
  );
  return rows.map((r) => ({ seq: r.seq, kind: r.kind, ...r.item }) as IngestItem);
}
