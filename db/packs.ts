/**
 * Pack files, content-addressed. A pack version is a manifest (path, mode, sha256 of each file);
 * identical content is stored once. Workers fetch a manifest's blobs and verify them by hash.
 */
import type { PoolClient } from 'pg';
import type { PackListResponse, PackSource } from '../common/api-types.js';
import type { ActionSpec, PackRef } from '../common/types.js';
import { manifestHash, manifestOf, sha256, type ManifestEntry, type PackFile } from '../lib/pack-files.js';
import { upsertActions, type UpsertOutcome } from './actions.js';
import { inTransaction, type Pool } from './pool.js';

export { manifestHash, manifestOf, sha256, type ManifestEntry, type PackFile } from '../lib/pack-files.js';

/** Stores file contents (idempotent: a blob that exists is not written again). */
export async function storeBlobs(db: Pool | PoolClient, files: PackFile[]): Promise<void> {
  const seen = new Set<string>();
  const batch: PackFile[] = [];
  for (const f of files) {
    const h = sha256(f.content);
    if (seen.has(h)) continue;
    seen.add(h);
    batch.push(f);
  }
  for (let i = 0; i < batch.length; i += 200) {
    const slice = batch.slice(i, i + 200);
    const values: unknown[] = [];
    const rows = slice.map((f, j) => {
      values.push(sha256(f.content), f.content.length, f.content);
      return `($${j * 3 + 1}, $${j * 3 + 2}, $${j * 3 + 3})`;
    });
    await db.query(`INSERT INTO blobs (sha256, size, content) VALUES ${rows.join(', ')} ON CONFLICT (sha256) DO NOTHING`, values);
  }
}

/** Which of these hashes the store lacks. */
export async function missingBlobs(db: Pool | PoolClient, hashes: string[]): Promise<string[]> {
  if (hashes.length === 0) return [];
  const { rows } = await db.query<{ sha256: string }>('SELECT sha256 FROM blobs WHERE sha256 = ANY($1::text[])', [hashes]);
  const have = new Set(rows.map((r) => r.sha256));
  return [...new Set(hashes)].filter((h) => !have.has(h));
}

/** Records a pack version for this manifest (or finds the existing one). Run inside the ingest transaction. */
export async function recordPackVersion(client: PoolClient, pack: string, manifest: ManifestEntry[], source: Record<string, unknown>): Promise<PackRef> {
  const hash = manifestHash(manifest);
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pack:${pack}`]);
  const existing = await client.query<{ version: number }>('SELECT version FROM pack_versions WHERE pack = $1 AND manifest_hash = $2', [pack, hash]);
  let version = existing.rows[0]?.version;
  if (version === undefined) {
    const { rows } = await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM pack_versions WHERE pack = $1', [pack]);
    version = rows[0].v;
    await client.query('INSERT INTO pack_versions (pack, version, manifest_hash, files, source) VALUES ($1, $2, $3, $4, $5)', [
      pack,
      version,
      hash,
      JSON.stringify(manifest),
      JSON.stringify(source),
    ]);
  }
  await client.query(
    `INSERT INTO packs (name, source, current_version) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, current_version = EXCLUDED.current_version, updated_at = now(), removed_at = NULL, removed_by = NULL`,
    [pack, JSON.stringify(source), version],
  );
  return { pack, version, manifestHash: hash };
}

/** The file list of a pack's current version (undefined for a pack never ingested). */
export async function currentPackManifest(db: Pool | PoolClient, pack: string): Promise<ManifestEntry[] | undefined> {
  const { rows } = await db.query<{ files: ManifestEntry[] }>(
    'SELECT v.files FROM packs p JOIN pack_versions v ON v.pack = p.name AND v.version = p.current_version WHERE p.name = $1 AND p.removed_at IS NULL',
    [pack],
  );
  return rows[0]?.files;
}

/** The files of a pack version, with their content, for a worker to materialise. */
export async function loadPackVersion(db: Pool, ref: PackRef): Promise<{ manifest: ManifestEntry[]; contents: Map<string, Buffer> }> {
  const { rows } = await db.query<{ files: ManifestEntry[] }>('SELECT files FROM pack_versions WHERE pack = $1 AND manifest_hash = $2', [
    ref.pack,
    ref.manifestHash,
  ]);
  if (!rows[0]) throw new Error(`pack ${ref.pack} has no version with manifest ${ref.manifestHash}`);
  const manifest = rows[0].files;
  const blobs = await db.query<{ sha256: string; content: Buffer }>('SELECT sha256, content FROM blobs WHERE sha256 = ANY($1::text[])', [
    manifest.map((m) => m.sha256),
  ]);
  return { manifest, contents: new Map(blobs.rows.map((b) => [b.sha256, b.content])) };
}

export async function loadBlobs(db: Pool, hashes: string[]): Promise<Map<string, Buffer>> {
  const blobs = await db.query<{ sha256: string; content: Buffer }>('SELECT sha256, content FROM blobs WHERE sha256 = ANY($1::text[])', [hashes]);
  return new Map(blobs.rows.map((b) => [b.sha256, b.content]));
}

/** Every pack with its current version, source and number of live actions. */
export async function listPacks(db: Pool): Promise<PackListResponse['packs']> {
  const { rows } = await db.query<{ name: string; source: PackSource; current_version: number; updated_at: Date; actions: number }>(
    `SELECT p.name, p.source, p.current_version, p.updated_at,
            (SELECT count(*)::int FROM actions a WHERE a.pack = p.name AND a.is_current AND a.removed_at IS NULL) AS actions
     FROM packs p WHERE p.removed_at IS NULL ORDER BY p.name`,
  );
  return rows.map((r) => ({ name: r.name, version: r.current_version, source: r.source, actions: r.actions, updatedAt: r.updated_at.toISOString() }));
}

/**
 * The one way a pack version reaches the catalog (ingest, built-in registration): its files go to
 * the blob store (those it lacks), then the version and its actions are recorded in one transaction;
 * actions of the pack that are not in `actions` are marked removed. `inside` runs last in that
 * transaction (the ingest stores its report there).
 */
export async function registerPackVersion(
  pool: Pool,
  pack: string,
  files: PackFile[],
  source: Record<string, unknown>,
  actions: Omit<ActionSpec, 'version' | 'packRef'>[],
  inside?: (client: PoolClient, registered: { packVersion: PackRef; outcomes: UpsertOutcome[] }) => Promise<void>,
  progress?: (done: number, total: number) => void,
): Promise<{ packVersion: PackRef; outcomes: UpsertOutcome[] }> {
  const manifest = manifestOf(files);
  const lacking = new Set(
    await missingBlobs(
      pool,
      manifest.map((m) => m.sha256),
    ),
  );
  const hashOf = new Map(manifest.map((m) => [m.path, m.sha256]));
  await storeBlobs(
    pool,
    files.filter((f) => lacking.has(hashOf.get(f.path)!)),
  );
  return inTransaction(pool, async (client) => {
    const packVersion = await recordPackVersion(client, pack, manifest, source);
    const outcomes = await upsertActions(
      client,
      actions.map((a) => ({ ...a, packRef: packVersion })),
      { removeMissingFromPacks: [pack], ...(progress ? { progress } : {}) },
    );
    await inside?.(client, { packVersion, outcomes });
    return { packVersion, outcomes };
  });
}
