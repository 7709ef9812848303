/** The action catalog in Postgres: versioned, one current version per name. */
import type { PoolClient } from 'pg';
import type { Pool } from './pool.js';
import type { ActionSpec } from '../common/types.js';

interface ActionRow {
  name: string;
  version: number;
  pack: string;
  description: string;
  runner: ActionSpec['runner'];
  entry_point: string;
  pack_dir: string;
  parameters: ActionSpec['parameters'];
  timeout_seconds: number;
  max_attempts: number;
  idempotent: boolean;
  region: string | null;
  content_hash: string;
  removed_at: Date | null;
  pack_version: number | null;
  manifest_hash: string | null;
  source_path: string | null;
  origin: NonNullable<ActionSpec['origin']>;
  argv_prefix: string[];
  warnings: NonNullable<ActionSpec['warnings']>;
}

function fromRow(r: ActionRow): ActionSpec {
  return {
    name: r.name,
    version: r.version,
    pack: r.pack,
    description: r.description,
    runner: r.runner,
    entryPoint: r.entry_point,
    packDir: r.pack_dir,
    parameters: r.parameters,
    timeoutSeconds: r.timeout_seconds,
    maxAttempts: r.max_attempts,
    ...(r.idempotent ? { idempotent: true } : {}),
    ...(r.region ? { region: r.region } : {}),
    contentHash: r.content_hash,
    ...(r.pack_version !== null && r.manifest_hash ? { packRef: { pack: r.pack, version: r.pack_version, manifestHash: r.manifest_hash } } : {}),
    ...(r.source_path ? { sourcePath: r.source_path } : {}),
    ...(r.argv_prefix.length ? { argvPrefix: r.argv_prefix } : {}),
    origin: r.origin,
    warnings: r.warnings,
  };
}

/** The fields whose change makes a new version (ingest compares with it too). */
export function definitionKey(
  a: Pick<
    ActionSpec,
    | 'contentHash'
    | 'description'
    | 'runner'
    | 'entryPoint'
    | 'parameters'
    | 'timeoutSeconds'
    | 'maxAttempts'
    | 'region'
    | 'argvPrefix'
    | 'origin'
    | 'idempotent'
  >,
): string {
  return JSON.stringify([
    a.contentHash,
    a.description,
    a.runner,
    a.entryPoint,
    a.parameters,
    a.timeoutSeconds,
    a.maxAttempts,
    a.region ?? null,
    a.argvPrefix ?? [],
    a.origin ?? 'metadata',
    // Only when set: the keys of actions registered before the field existed do not change.
    ...(a.idempotent ? ['idempotent'] : []),
  ]);
}

export async function getCurrentAction(pool: Pool, name: string): Promise<ActionSpec | undefined> {
  const { rows } = await pool.query<ActionRow>('SELECT * FROM actions WHERE name = $1 AND is_current AND removed_at IS NULL', [name]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function listActions(pool: Pool, pack?: string): Promise<ActionSpec[]> {
  const { rows } = await pool.query<ActionRow>(
    'SELECT * FROM actions WHERE is_current AND removed_at IS NULL AND ($1::text IS NULL OR pack = $1) ORDER BY name',
    [pack ?? null],
  );
  return rows.map(fromRow);
}

export interface UpsertOutcome {
  name: string;
  change: 'added' | 'changed' | 'unchanged' | 'removed';
  version: number;
}

export interface UpsertOptions {
  /** Mark current actions of these packs that are not in the list as removed (they stay resolvable). */
  removeMissingFromPacks?: string[];
  /** Told after each batch (a long upsert heartbeats through it). */
  progress?: (done: number, total: number) => void;
}

/** Actions compared and written per statement: 20,000 actions take 40 batches of a few statements each. */
export const UPSERT_BATCH = 500;

/** Batches of at most `size` actions, no name twice in one (a later one must see the earlier one's row). */
function batches<T extends { name: string }>(actions: T[], size: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let names = new Set<string>();
  for (const a of actions) {
    if (cur.length >= size || names.has(a.name)) {
      out.push(cur);
      cur = [];
      names = new Set();
    }
    cur.push(a);
    names.add(a.name);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** One batch: read the current rows (locked), move the pack reference of unchanged ones, retire and insert the changed and new ones. */
async function upsertBatch(client: PoolClient, actions: Omit<ActionSpec, 'version'>[], out: UpsertOutcome[]): Promise<void> {
  const { rows } = await client.query<ActionRow>('SELECT * FROM actions WHERE name = ANY($1::text[]) AND is_current ORDER BY name FOR UPDATE', [
    actions.map((a) => a.name),
  ]);
  const current = new Map(rows.map((r) => [r.name, r]));
  const touch: Omit<ActionSpec, 'version'>[] = [];
  const insert: (Omit<ActionSpec, 'version'> & { version: number })[] = [];
  const retire: string[] = [];
  for (const a of actions) {
    const row = current.get(a.name);
    const cur = row ? fromRow(row) : undefined;
    if (row && cur && row.removed_at === null && definitionKey(cur) === definitionKey(a)) {
      if (a.packRef && (cur.packRef?.manifestHash !== a.packRef.manifestHash || JSON.stringify(cur.warnings ?? []) !== JSON.stringify(a.warnings ?? [])))
        touch.push(a);
      out.push({ name: a.name, change: 'unchanged', version: cur.version });
      continue;
    }
    const version = cur ? cur.version + 1 : 1;
    if (cur) retire.push(a.name);
    insert.push({ ...a, version });
    out.push({ name: a.name, change: row && row.removed_at === null ? 'changed' : 'added', version });
  }
  if (touch.length)
    await client.query(
      `UPDATE actions a SET pack_version = u.pack_version, manifest_hash = u.manifest_hash, warnings = u.warnings, pack_dir = u.pack_dir
       FROM unnest($1::text[], $2::int[], $3::text[], $4::jsonb[], $5::text[]) AS u(name, pack_version, manifest_hash, warnings, pack_dir)
       WHERE a.name = u.name AND a.is_current`,
      [
        touch.map((a) => a.name),
        touch.map((a) => a.packRef!.version),
        touch.map((a) => a.packRef!.manifestHash),
        touch.map((a) => JSON.stringify(a.warnings ?? [])),
        touch.map((a) => a.packDir),
      ],
    );
  if (retire.length) await client.query('UPDATE actions SET is_current = false WHERE name = ANY($1::text[]) AND is_current', [retire]);
  if (insert.length)
    await client.query(
      `INSERT INTO actions (name, version, pack, description, runner, entry_point, pack_dir, parameters, timeout_seconds, max_attempts, region, content_hash,
                            pack_version, manifest_hash, source_path, origin, argv_prefix, warnings, idempotent)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::json[], $9::int[], $10::int[],
                            $11::text[], $12::text[], $13::int[], $14::text[], $15::text[], $16::text[], $17::json[], $18::jsonb[], $19::boolean[])`,
      [
        insert.map((a) => a.name),
        insert.map((a) => a.version),
        insert.map((a) => a.pack),
        insert.map((a) => a.description),
        insert.map((a) => a.runner),
        insert.map((a) => a.entryPoint),
        insert.map((a) => a.packDir),
        insert.map((a) => JSON.stringify(a.parameters)),
        insert.map((a) => a.timeoutSeconds),
        insert.map((a) => a.maxAttempts),
        insert.map((a) => a.region ?? null),
        insert.map((a) => a.contentHash),
        insert.map((a) => a.packRef?.version ?? null),
        insert.map((a) => a.packRef?.manifestHash ?? null),
        insert.map((a) => a.sourcePath ?? null),
        insert.map((a) => a.origin ?? 'metadata'),
        insert.map((a) => JSON.stringify(a.argvPrefix ?? [])),
        insert.map((a) => JSON.stringify(a.warnings ?? [])),
        insert.map((a) => a.idempotent === true),
      ],
    );
}

/**
 * Registers actions in one transaction (or in the caller's), UPSERT_BATCH at a time. An action whose
 * definition is unchanged keeps its version (its pack files reference moves to the newest pack
 * version); a changed one gets version+1 and the old version stays resolvable; with
 * removeMissingFromPacks, actions no longer present are marked removed, not deleted.
 */
export async function upsertActions(db: Pool | PoolClient, actions: Omit<ActionSpec, 'version'>[], opts: UpsertOptions = {}): Promise<UpsertOutcome[]> {
  const own = 'connect' in db && typeof (db as Pool).totalCount === 'number';
  const client: PoolClient = own ? await (db as Pool).connect() : (db as PoolClient);
  try {
    if (own) await client.query('BEGIN');
    const out: UpsertOutcome[] = [];
    for (const batch of batches(actions, UPSERT_BATCH)) {
      await upsertBatch(client, batch, out);
      opts.progress?.(out.length, actions.length);
    }
    for (const pack of opts.removeMissingFromPacks ?? []) {
      const keep = actions.filter((a) => a.pack === pack).map((a) => a.name);
      const { rows } = await client.query<{ name: string; version: number }>(
        'UPDATE actions SET removed_at = now() WHERE pack = $1 AND is_current AND removed_at IS NULL AND NOT (name = ANY($2::text[])) RETURNING name, version',
        [pack, keep],
      );
      for (const r of rows) out.push({ name: r.name, change: 'removed', version: r.version });
    }
    if (own) await client.query('COMMIT');
    return out;
  } catch (err) {
    if (own) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    if (own) client.release();
  }
}

/** Current actions of a pack, including removed ones (for drift reports). */
export async function packActions(db: Pool | PoolClient, pack: string): Promise<(ActionSpec & { removed: boolean })[]> {
  const { rows } = await db.query<ActionRow>('SELECT * FROM actions WHERE pack = $1 AND is_current ORDER BY name', [pack]);
  return rows.map((r) => ({ ...fromRow(r), removed: r.removed_at !== null }));
}

/** A specific version, for runs pinned to it. */
export async function getActionVersion(db: Pool, name: string, version: number): Promise<ActionSpec | undefined> {
  const { rows } = await db.query<ActionRow>('SELECT * FROM actions WHERE name = $1 AND version = $2', [name, version]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}
