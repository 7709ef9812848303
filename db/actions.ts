/** The action catalog in Postgres: versioned, one current version per name. */
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
  region: string | null;
  content_hash: string;
  removed_at: Date | null;
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
    ...(r.region ? { region: r.region } : {}),
    contentHash: r.content_hash,
  };
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
  change: 'added' | 'changed' | 'unchanged';
  version: number;
}

/**
 * Registers actions in one transaction. An action whose definition is unchanged keeps its version;
 * a changed one gets version+1 and the old version stays resolvable.
 */
export async function upsertActions(pool: Pool, actions: Omit<ActionSpec, 'version'>[]): Promise<UpsertOutcome[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out: UpsertOutcome[] = [];
    for (const a of actions) {
      const { rows } = await client.query<ActionRow>('SELECT * FROM actions WHERE name = $1 AND is_current FOR UPDATE', [a.name]);
      const cur = rows[0] ? fromRow(rows[0]) : undefined;
      const same =
        cur !== undefined &&
        cur.contentHash === a.contentHash &&
        JSON.stringify([cur.description, cur.runner, cur.entryPoint, cur.packDir, cur.parameters, cur.timeoutSeconds, cur.maxAttempts, cur.region ?? null]) ===
          JSON.stringify([a.description, a.runner, a.entryPoint, a.packDir, a.parameters, a.timeoutSeconds, a.maxAttempts, a.region ?? null]);
      if (same && rows[0]?.removed_at === null) {
        out.push({ name: a.name, change: 'unchanged', version: cur.version });
        continue;
      }
      const version = cur ? cur.version + 1 : 1;
      if (cur) await client.query('UPDATE actions SET is_current = false WHERE name = $1 AND is_current', [a.name]);
      await client.query(
        `INSERT INTO actions (name, version, pack, description, runner, entry_point, pack_dir, parameters, timeout_seconds, max_attempts, region, content_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [a.name, version, a.pack, a.description, a.runner, a.entryPoint, a.packDir, JSON.stringify(a.parameters), a.timeoutSeconds, a.maxAttempts, a.region ?? null, a.contentHash],
      );
      out.push({ name: a.name, change: cur ? 'changed' : 'added', version });
    }
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
