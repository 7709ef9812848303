/** Deployment records: one row per region leg (deploy or rollback) of a deploy, and the reads over them. */
import type { DeploymentRecord } from '../common/api-types.js';
import type { Pool, Queryable } from './pool.js';

export type DeploymentStatus = 'running' | 'succeeded' | 'failed' | 'rolled_back' | 'cancelled';

/** A stored record: the API's DeploymentRecord (common/api-types), with Postgres' dates. */
export type DeploymentRow = Omit<DeploymentRecord, 'status' | 'startedAt' | 'finishedAt'> & {
  status: DeploymentStatus;
  startedAt: Date;
  finishedAt: Date | null;
};

/** What a region leg records; `id` is `<deploymentId>.<region>.<kind>`. */
export type DeploymentRecordInput = Omit<DeploymentRow, 'startedAt' | 'finishedAt' | 'reason' | 'puppet' | 'approvedBy' | 'triggerId'> & {
  runId: string;
  triggerId?: string | null;
  reason?: string | null;
  puppet?: DeploymentRecord['puppet'];
  approvedBy?: string | null;
};

/** Per region, the version running there now: that of the last succeeded deploy or rollback. */
export async function currentVersions(db: Queryable, component: string, environment: string): Promise<Map<string, string>> {
  const { rows } = await db.query<{ region: string; version: string }>(
    `SELECT DISTINCT ON (region) region, version FROM deployments
     WHERE component = $1 AND environment = $2 AND status = 'succeeded' ORDER BY region, finished_at DESC`,
    [component, environment],
  );
  return new Map(rows.map((r) => [r.region, r.version]));
}

/**
 * Records a region leg (idempotent: the activity may run again). A successful rollback
 * (`<deployment>.<region>.rollback`) marks the region's deploy of the same run rolled_back: it
 * succeeded, but it is no longer what runs there.
 */
export async function recordDeployment(db: Queryable, r: DeploymentRecordInput): Promise<void> {
  await db.query(
    `INSERT INTO deployments (id, component, version, environment, region, kind, status, previous_version, actor, trigger, workflow_id, run_id, reason, puppet_summary, approved_by, trigger_id, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, CASE WHEN $7 = 'running' THEN NULL ELSE now() END)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason,
       puppet_summary = COALESCE(EXCLUDED.puppet_summary, deployments.puppet_summary), finished_at = EXCLUDED.finished_at`,
    [
      r.id,
      r.component,
      r.version,
      r.environment,
      r.region,
      r.kind,
      r.status,
      r.previousVersion,
      r.actor,
      r.trigger,
      r.workflowId,
      r.runId,
      r.reason ?? null,
      r.puppet ? JSON.stringify(r.puppet) : null,
      r.approvedBy ?? null,
      r.triggerId ?? null,
    ],
  );
  if (r.kind === 'rollback' && r.status === 'succeeded' && r.id.endsWith('.rollback')) {
    await db.query("UPDATE deployments SET status = 'rolled_back', reason = COALESCE(reason, $2) WHERE id = $1 AND status = 'succeeded'", [
      `${r.id.slice(0, -'.rollback'.length)}.deploy`,
      `rolled back to ${r.version} after the deploy failed elsewhere`,
    ]);
  }
}

const COLUMNS = `id, component, version, environment, region, kind, status, previous_version AS "previousVersion", actor, trigger,
  workflow_id AS "workflowId", reason, puppet_summary AS "puppet", approved_by AS "approvedBy", trigger_id AS "triggerId", started_at AS "startedAt", finished_at AS "finishedAt"`;

/** Recent records, newest first, optionally of one component and/or environment. */
export async function listDeployments(
  db: Pool,
  opts: { component?: string | undefined; environment?: string | undefined; limit: number },
): Promise<DeploymentRow[]> {
  const { rows } = await db.query<DeploymentRow>(
    `SELECT ${COLUMNS} FROM deployments
     WHERE ($1::text IS NULL OR component = $1) AND ($2::text IS NULL OR environment = $2) ORDER BY started_at DESC LIMIT $3`,
    [opts.component ?? null, opts.environment ?? null, opts.limit],
  );
  return rows;
}

/** The region records of one deploy run (ids are `<deploymentId>.<region>.<kind>`: the generated column deployment_id, indexed). */
export async function deploymentRecords(db: Pool, deploymentId: string): Promise<DeploymentRow[]> {
  const { rows } = await db.query<DeploymentRow>(`SELECT ${COLUMNS} FROM deployments WHERE deployment_id = $1 ORDER BY started_at`, [deploymentId]);
  return rows;
}
