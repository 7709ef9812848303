/**
 * Rules, versioned: `rules` holds the current version of each, `rule_versions` every version (and
 * deletions) with who made it. A change notifies RULES_CHANNEL so every API process reloads its index.
 */
import type { KeyScopes } from './apikeys.js';
import { canonicalJson } from './triggers.js';
import type { PoolClient, Queryable } from './pool.js';

export const RULES_CHANNEL = 'stackwire_rules';

/** Equal definitions whatever the key order (jsonb keeps its own). */
export function sameDefinition(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

export interface RuleRow {
  name: string;
  version: number;
  enabled: boolean;
  triggerType: string;
  definition: unknown;
  source: string;
  file: string;
  appliedBy: string;
  appliedRole: string;
  appliedScopes: KeyScopes;
  appliedAt: Date;
}

interface Raw {
  name: string;
  version: number;
  enabled: boolean;
  trigger_type: string;
  definition: unknown;
  source: string;
  file: string;
  applied_by: string;
  applied_role: string;
  applied_scopes: KeyScopes;
  applied_at: Date;
}

const toRow = (r: Raw): RuleRow => ({
  name: r.name,
  version: r.version,
  enabled: r.enabled,
  triggerType: r.trigger_type,
  definition: r.definition,
  source: r.source,
  file: r.file,
  appliedBy: r.applied_by,
  appliedRole: r.applied_role,
  appliedScopes: r.applied_scopes,
  appliedAt: r.applied_at,
});

export async function listRules(db: Queryable): Promise<RuleRow[]> {
  const { rows } = await db.query<Raw>(`SELECT * FROM rules ORDER BY name`);
  return rows.map(toRow);
}

export async function getRule(db: Queryable, name: string): Promise<RuleRow | undefined> {
  const { rows } = await db.query<Raw>(`SELECT * FROM rules WHERE name = $1`, [name]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

export interface RuleVersionRow {
  version: number;
  change: 'created' | 'updated' | 'deleted';
  actor: string;
  at: Date;
}

export async function ruleVersions(db: Queryable, name: string): Promise<RuleVersionRow[]> {
  const { rows } = await db.query<RuleVersionRow>(`SELECT version, change, actor, at FROM rule_versions WHERE name = $1 ORDER BY version DESC`, [name]);
  return rows;
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

/**
 * Writes one rule inside the caller's transaction: a new version when its definition or enabled flag
 * changed (`unchanged` otherwise). The caller notifies once the transaction commits (notifyRules).
 */
export async function applyRule(
  db: PoolClient,
  r: { name: string; enabled: boolean; triggerType: string; definition: unknown; source: string; file: string; actor: string; role: string; scopes: KeyScopes },
): Promise<{ outcome: ApplyOutcome; version: number }> {
  const { rows } = await db.query<Raw>(`SELECT * FROM rules WHERE name = $1 FOR UPDATE`, [r.name]);
  const current = rows[0];
  if (current && sameDefinition(current.definition, r.definition) && current.enabled === r.enabled) return { outcome: 'unchanged', version: current.version };
  const last = await db.query<{ v: number | null }>(`SELECT max(version) AS v FROM rule_versions WHERE name = $1`, [r.name]);
  const version = (last.rows[0]?.v ?? 0) + 1;
  await db.query(
    `INSERT INTO rules (name, version, enabled, trigger_type, definition, source, file, applied_by, applied_role, applied_scopes, applied_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
     ON CONFLICT (name) DO UPDATE SET version = $2, enabled = $3, trigger_type = $4, definition = $5, source = $6, file = $7,
       applied_by = $8, applied_role = $9, applied_scopes = $10, applied_at = now()`,
    [r.name, version, r.enabled, r.triggerType, JSON.stringify(r.definition), r.source, r.file, r.actor, r.role, JSON.stringify(r.scopes)],
  );
  await db.query(`INSERT INTO rule_versions (name, version, definition, source, change, actor) VALUES ($1, $2, $3, $4, $5, $6)`, [
    r.name,
    version,
    JSON.stringify(r.definition),
    r.source,
    current ? 'updated' : 'created',
    r.actor,
  ]);
  return { outcome: current ? 'updated' : 'created', version };
}

/** Removes a rule from service (its versions stay); false when there is none. */
export async function deleteRule(db: PoolClient, name: string, actor: string): Promise<boolean> {
  const { rows } = await db.query<{ version: number }>(`DELETE FROM rules WHERE name = $1 RETURNING version`, [name]);
  if (!rows[0]) return false;
  const last = await db.query<{ v: number | null }>(`SELECT max(version) AS v FROM rule_versions WHERE name = $1`, [name]);
  await db.query(`INSERT INTO rule_versions (name, version, change, actor) VALUES ($1, $2, 'deleted', $3)`, [name, (last.rows[0]?.v ?? 0) + 1, actor]);
  return true;
}

export async function notifyRules(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify($1, 'changed')`, [RULES_CHANNEL]);
}
