/** Applying the source of truth (one transaction, desired state) and reading it back. */
import type { PoolClient } from 'pg';
import type { Pool, Queryable } from './pool.js';
import type { SotChange } from '../common/api-types.js';
import type { Component, SourceOfTruth } from '../sot/definitions.js';

export type { SotChange } from '../common/api-types.js';

interface ComponentRow {
  name: string;
  repository: string;
  platform: Component['platform'];
  owner: string;
  puppet_role: string | null;
  hiera: Record<string, unknown>;
  checks: Component['checks'];
  deploy_params: Record<string, unknown>;
  actions: Component['actions'];
  source: string;
  depends_on: string[] | null;
  placements: Record<string, string[]> | null;
  platform_settings: Component['platformSettings'] | null;
}

const COMPONENT_QUERY = `
  SELECT c.*,
    (SELECT array_agg(d.depends_on ORDER BY d.depends_on) FROM dependencies d WHERE d.component = c.name) AS depends_on,
    (SELECT jsonb_object_agg(environment, regions) FROM (
       SELECT environment, jsonb_agg(region ORDER BY position, region) AS regions FROM placements p WHERE p.component = c.name GROUP BY environment) x) AS placements
  FROM components c`;

function fromRow(r: ComponentRow): Component {
  return {
    name: r.name,
    repository: r.repository,
    platform: r.platform,
    owner: r.owner,
    puppetRole: r.puppet_role,
    hiera: r.hiera,
    checks: r.checks,
    deployParams: r.deploy_params,
    actions: r.actions,
    dependsOn: r.depends_on ?? [],
    placements: r.placements ?? {},
    ...(r.platform_settings ? { platformSettings: r.platform_settings } : {}),
    source: r.source,
  };
}

export async function listComponents(db: Pool | PoolClient): Promise<Component[]> {
  const { rows } = await db.query<ComponentRow>(`${COMPONENT_QUERY} ORDER BY c.name`);
  return rows.map(fromRow);
}

export async function getComponent(db: Pool | PoolClient, name: string): Promise<Component | undefined> {
  const { rows } = await db.query<ComponentRow>(`${COMPONENT_QUERY} WHERE c.name = $1`, [name]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

function normalised(c: Component): Omit<Component, 'source'> {
  const { source: _s, ...rest } = c;
  return { ...rest, dependsOn: [...rest.dependsOn].sort(), placements: Object.fromEntries(Object.entries(rest.placements).sort()) };
}

/** JSON with object keys sorted: Postgres' jsonb does not keep key order. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

function componentDetails(a: Component, b: Component): string[] {
  const x = normalised(a) as unknown as Record<string, unknown>;
  const y = normalised(b) as unknown as Record<string, unknown>;
  return Object.keys(y)
    .filter((k) => stable(x[k]) !== stable(y[k]))
    .map((k) => `${k} changed`);
}

/** Makes the database equal to `sot` (what is not in it is removed). With dryRun, only the diff. */
export async function applySourceOfTruth(pool: Pool, sot: SourceOfTruth, dryRun: boolean): Promise<SotChange[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['stackwire:sot']);
    const changes: SotChange[] = [];
    for (const kind of ['environment', 'region'] as const) {
      const table = kind === 'environment' ? 'environments' : 'regions';
      const want: { name: string; description: string; protected?: boolean }[] = kind === 'environment' ? sot.environments : sot.regions;
      const { rows } = await client.query<{ name: string; description: string; protected?: boolean }>(
        kind === 'environment' ? 'SELECT name, description, protected FROM environments' : 'SELECT name, description FROM regions',
      );
      const have = new Map(rows.map((r) => [r.name, r]));
      for (const w of want) {
        const h = have.get(w.name);
        const details = [
          ...(h && h.description !== w.description ? ['description changed'] : []),
          ...(h && kind === 'environment' && (h.protected ?? false) !== (w.protected ?? false) ? [w.protected ? 'now protected' : 'no longer protected'] : []),
        ];
        if (!h) changes.push({ kind, name: w.name, change: 'added' });
        else if (details.length) changes.push({ kind, name: w.name, change: 'changed', details });
        if (dryRun) continue;
        if (kind === 'environment')
          await client.query(
            `INSERT INTO environments (name, description, protected) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, protected = EXCLUDED.protected, updated_at = now()`,
            [w.name, w.description, w.protected ?? false],
          );
        else
          await client.query(
            `INSERT INTO regions (name, description) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, updated_at = now()`,
            [w.name, w.description],
          );
      }
      for (const name of have.keys()) {
        if (!want.some((w) => w.name === name)) {
          changes.push({ kind, name, change: 'removed' });
          if (!dryRun) await client.query(`DELETE FROM ${table} WHERE name = $1`, [name]);
        }
      }
    }
    const current = new Map((await listComponents(client)).map((c) => [c.name, c]));
    for (const c of sot.components) {
      const h = current.get(c.name);
      if (!h) changes.push({ kind: 'component', name: c.name, change: 'added' });
      else {
        const d = componentDetails(h, c);
        if (d.length) changes.push({ kind: 'component', name: c.name, change: 'changed', details: d });
      }
      if (dryRun) continue;
      await client.query(
        `INSERT INTO components (name, repository, platform, owner, puppet_role, hiera, checks, deploy_params, actions, source, platform_settings)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (name) DO UPDATE SET repository = EXCLUDED.repository, platform = EXCLUDED.platform, owner = EXCLUDED.owner,
           puppet_role = EXCLUDED.puppet_role, hiera = EXCLUDED.hiera, checks = EXCLUDED.checks, deploy_params = EXCLUDED.deploy_params,
           actions = EXCLUDED.actions, source = EXCLUDED.source, platform_settings = EXCLUDED.platform_settings, updated_at = now()`,
        [
          c.name,
          c.repository,
          c.platform,
          c.owner,
          c.puppetRole,
          JSON.stringify(c.hiera),
          JSON.stringify(c.checks),
          JSON.stringify(c.deployParams),
          JSON.stringify(c.actions),
          c.source,
          c.platformSettings ? JSON.stringify(c.platformSettings) : null,
        ],
      );
    }
    for (const name of current.keys()) {
      if (!sot.components.some((c) => c.name === name)) {
        changes.push({ kind: 'component', name, change: 'removed' });
        if (!dryRun) await client.query('DELETE FROM components WHERE name = $1', [name]);
      }
    }
    if (!dryRun) {
      await client.query('DELETE FROM dependencies');
      await client.query('DELETE FROM placements');
      for (const c of sot.components) {
        for (const d of c.dependsOn) await client.query('INSERT INTO dependencies (component, depends_on) VALUES ($1, $2)', [c.name, d]);
        for (const [env, regions] of Object.entries(c.placements)) {
          for (const [i, r] of regions.entries())
            await client.query('INSERT INTO placements (component, environment, region, position) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
              c.name,
              env,
              r,
              i,
            ]);
        }
      }
    }
    await client.query(dryRun ? 'ROLLBACK' : 'COMMIT');
    return changes;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export async function dependencyEdges(db: Pool | PoolClient): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ component: string; depends_on: string }>('SELECT component, depends_on FROM dependencies');
  const m = new Map<string, string[]>();
  for (const r of rows) m.set(r.component, [...(m.get(r.component) ?? []), r.depends_on]);
  return m;
}

/** Whether an environment is protected (production: deployer role, four-eyes approval gate); undefined when unknown. */
export async function environmentProtected(db: Queryable, name: string): Promise<boolean | undefined> {
  const { rows } = await db.query<{ protected: boolean }>('SELECT protected FROM environments WHERE name = $1', [name]);
  return rows[0]?.protected;
}

/** The environments flagged protected (a pipeline run pins them: its deploys there always wait for an approval). */
export async function protectedEnvironments(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM environments WHERE protected ORDER BY name');
  return rows.map((r) => r.name);
}
