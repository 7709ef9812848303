/** The secrets the source of truth refers to (`secret:<name>`), stored sealed; values are never listed. */
import type { Pool } from './pool.js';

export async function setSotSecret(pool: Pool, name: string, sealed: unknown, actor: string): Promise<void> {
  await pool.query(
    `INSERT INTO sot_secrets (name, value, set_by) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, set_by = EXCLUDED.set_by, updated_at = now()`,
    [name, JSON.stringify(sealed), actor],
  );
}

export async function deleteSotSecret(pool: Pool, name: string): Promise<boolean> {
  return ((await pool.query('DELETE FROM sot_secrets WHERE name = $1', [name])).rowCount ?? 0) > 0;
}

export async function listSotSecrets(pool: Pool): Promise<{ name: string; setBy: string | null; updatedAt: string }[]> {
  const { rows } = await pool.query<{ name: string; set_by: string | null; updated_at: Date }>(
    'SELECT name, set_by, updated_at FROM sot_secrets ORDER BY name',
  );
  return rows.map((r) => ({ name: r.name, setBy: r.set_by, updatedAt: r.updated_at.toISOString() }));
}

/** The sealed values of these names (missing names are absent). */
export async function sealedSotSecrets(pool: Pool, names: string[]): Promise<Map<string, unknown>> {
  const { rows } = await pool.query<{ name: string; value: unknown }>('SELECT name, value FROM sot_secrets WHERE name = ANY($1::text[])', [names]);
  return new Map(rows.map((r) => [r.name, r.value]));
}
