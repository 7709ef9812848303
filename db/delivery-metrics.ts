/**
 * Delivery metrics from the deployment records, aggregated by Postgres in one statement: deploys per
 * day and per developer or component, lead time, change failure rate and time to restore (the figures
 * are defined in the README, "Delivery metrics", and in common/api-types-metrics.ts).
 *
 * A deploy is one run (`deployment_id`): its region legs of kind `deploy` together. It started when its
 * first leg did and ended when its last did; it failed when a leg failed or was rolled back, is running
 * while a leg runs, was cancelled when a leg was (and none failed), and succeeded otherwise.
 */
import type { DeliveryDay, DeliveryDeploy, DeliveryFigures, DeliveryGrouping, DeliveryMetricsResponse, DurationFigure } from '../common/api-types.js';
import { inTransaction, type Pool } from './pool.js';

/** At most this many deploys are listed (deploys=true); the figures cover them all. */
export const DEPLOY_LIST_LIMIT = 1000;

export interface DeliveryQuery {
  since: Date;
  until: Date;
  environment: string;
  /** Only these components (null: all). */
  components: string[] | null;
  by: DeliveryGrouping;
  listDeploys: boolean;
}

const SQL = `
WITH runs AS (
  -- Every deploy run of the environment that started in the window, from all its legs (a later one may start after until).
  SELECT d.deployment_id AS id, min(d.component) AS component, min(d.version) AS version, min(d.actor) AS actor,
         min(d.trigger_id) AS trigger_id, count(*)::int AS regions, min(d.started_at) AS started_at,
         CASE WHEN bool_or(d.status = 'running') THEN 'running'
              WHEN bool_or(d.status IN ('failed', 'rolled_back')) THEN 'failed'
              WHEN bool_or(d.status = 'cancelled') THEN 'cancelled'
              ELSE 'succeeded' END AS status,
         CASE WHEN bool_or(d.status = 'running') THEN NULL ELSE max(d.finished_at) END AS finished_at
  FROM deployments d
  WHERE d.kind = 'deploy' AND d.environment = $3
    AND d.deployment_id IN (
      SELECT deployment_id FROM deployments
      WHERE kind = 'deploy' AND environment = $3 AND started_at >= $1 AND started_at < $2 AND ($4::text[] IS NULL OR component = ANY ($4::text[])))
  GROUP BY d.deployment_id
  HAVING min(d.started_at) >= $1
), deploys AS (
  -- Who (the pushed commit's author, else the actor) and from when (the commit, else the version's first record).
  SELECT r.*, coalesce(t.metadata ->> 'author', r.actor) AS developer, t.metadata ->> 'commit' AS commit,
         (t.metadata ->> 'committedAt')::timestamptz AS committed_at, v.first_seen
  FROM runs r
  LEFT JOIN triggers t ON t.id = r.trigger_id
  LEFT JOIN LATERAL (
    SELECT min(x.started_at) AS first_seen FROM deployments x
    WHERE r.status = 'succeeded' AND t.metadata ->> 'committedAt' IS NULL AND x.component = r.component AND x.version = r.version
  ) v ON true
), measured AS (
  -- The deploys started in the window, each with its lead time (succeeded) or time to restore (failed).
  SELECT d.*,
         CASE WHEN d.status = 'succeeded' THEN greatest(0, extract(epoch FROM d.finished_at - coalesce(d.committed_at, d.first_seen)))::float8 END AS lead_seconds,
         CASE WHEN d.status <> 'succeeded' THEN NULL WHEN d.committed_at IS NOT NULL THEN 'commit' ELSE 'version' END AS lead_from,
         s.restored_at,
         CASE WHEN s.restored_at IS NOT NULL THEN greatest(0, extract(epoch FROM s.restored_at - d.finished_at))::float8 END AS restore_seconds,
         CASE WHEN $5::text = 'component' THEN d.component ELSE d.developer END AS grp
  FROM deploys d
  LEFT JOIN LATERAL (
    -- The end of the component's first deploy after it whose every leg succeeded (looked for past until too).
    SELECT max(x.finished_at) AS restored_at FROM deployments x
    WHERE d.status = 'failed' AND x.kind = 'deploy' AND x.deployment_id = (
      SELECT y.deployment_id FROM deployments y
      WHERE y.component = d.component AND y.environment = $3 AND y.kind = 'deploy' AND y.started_at > d.started_at
        AND NOT EXISTS (SELECT 1 FROM deployments z WHERE z.deployment_id = y.deployment_id AND z.kind = 'deploy' AND z.status <> 'succeeded')
      ORDER BY y.started_at LIMIT 1)
  ) s ON true
), figures AS (
  SELECT grouping(grp) = 1 AS total, grp AS key,
         count(*)::int AS deploys,
         count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
         count(*) FILTER (WHERE status = 'failed')::int AS failed,
         count(DISTINCT developer)::int AS developers,
         count(DISTINCT component)::int AS components,
         count(lead_seconds)::int AS lead_count,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_seconds) AS lead_median,
         avg(lead_seconds) AS lead_mean,
         count(*) FILTER (WHERE lead_from = 'commit')::int AS lead_from_commit,
         count(*) FILTER (WHERE lead_from = 'version')::int AS lead_from_version,
         count(restore_seconds)::int AS restore_count,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY restore_seconds) AS restore_median,
         avg(restore_seconds) AS restore_mean,
         count(*) FILTER (WHERE status = 'failed' AND restored_at IS NULL)::int AS not_restored
  FROM measured WHERE status IN ('succeeded', 'failed')
  GROUP BY GROUPING SETS ((), (grp))
), days AS (
  SELECT to_char(day, 'YYYY-MM-DD') AS day,
         count(m.id) FILTER (WHERE m.status IN ('succeeded', 'failed'))::int AS deploys,
         count(m.id) FILTER (WHERE m.status = 'failed')::int AS failed
  FROM generate_series(date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC'),
                       date_trunc('day', ($2::timestamptz - interval '1 millisecond') AT TIME ZONE 'UTC'), interval '1 day') AS day
  LEFT JOIN measured m ON date_trunc('day', m.started_at AT TIME ZONE 'UTC') = day
  GROUP BY day
)
SELECT (SELECT json_agg(f) FROM figures f) AS figures,
       (SELECT json_agg(x ORDER BY x.day) FROM days x) AS days,
       (SELECT count(*)::int FROM measured WHERE status = 'running') AS running,
       (SELECT count(*)::int FROM measured WHERE status = 'cancelled') AS cancelled,
       (SELECT count(*)::int FROM measured) AS started,
       CASE WHEN $6::boolean THEN (
         SELECT json_agg(x) FROM (
           SELECT id, component, version, developer, actor, trigger_id, status, regions, started_at, finished_at, commit, committed_at,
                  lead_seconds, lead_from, restored_at, restore_seconds
           FROM measured ORDER BY started_at DESC, id LIMIT $7::int) x)
       END AS deploys
`;

interface FigureRow {
  total: boolean;
  key: string | null;
  deploys: number;
  succeeded: number;
  failed: number;
  developers: number;
  components: number;
  lead_count: number;
  lead_median: number | null;
  lead_mean: number | null;
  lead_from_commit: number;
  lead_from_version: number;
  restore_count: number;
  restore_median: number | null;
  restore_mean: number | null;
  not_restored: number;
}

interface DeployRow {
  id: string;
  component: string;
  version: string;
  developer: string;
  actor: string;
  trigger_id: string | null;
  status: DeliveryDeploy['status'];
  regions: number;
  started_at: string;
  finished_at: string | null;
  commit: string | null;
  committed_at: string | null;
  lead_seconds: number | null;
  lead_from: DeliveryDeploy['leadTimeFrom'];
  restored_at: string | null;
  restore_seconds: number | null;
}

const iso = (t: string | null): string | null => (t === null ? null : new Date(t).toISOString());
const duration = (count: number, median: number | null, mean: number | null): DurationFigure => ({
  count,
  medianSeconds: count ? median : null,
  meanSeconds: count ? mean : null,
});

function figures(f: FigureRow, days: number): DeliveryFigures {
  return {
    deploys: f.deploys,
    succeeded: f.succeeded,
    failed: f.failed,
    deploysPerDay: f.deploys / days,
    changeFailureRate: f.deploys ? f.failed / f.deploys : null,
    leadTime: { ...duration(f.lead_count, f.lead_median, f.lead_mean), fromCommit: f.lead_from_commit, fromVersion: f.lead_from_version },
    timeToRestore: { ...duration(f.restore_count, f.restore_median, f.restore_mean), notRestored: f.not_restored },
  };
}

/** A statement that ran longer than DeliveryQuery's time limit (Postgres' query_canceled). */
export function isStatementTimeout(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '57014';
}

/**
 * The figures, in one statement. JIT compilation is off for it: the planner's cost estimate of the
 * per-deploy look-ups (cheap index probes) is high enough to trigger it, and compiling took seconds
 * where running takes a fraction of one. `timeoutMs` bounds the statement (isStatementTimeout).
 */
export async function deliveryMetrics(pool: Pool, q: DeliveryQuery, opts: { timeoutMs?: number } = {}): Promise<DeliveryMetricsResponse> {
  const { rows } = await inTransaction(pool, async (c) => {
    await c.query(`SELECT set_config('jit', 'off', true), set_config('statement_timeout', $1, true)`, [String(opts.timeoutMs ?? 0)]);
    return c.query<{
      figures: FigureRow[];
      days: DeliveryDay[];
      running: number;
      cancelled: number;
      started: number;
      deploys: DeployRow[] | null;
    }>(SQL, [q.since, q.until, q.environment, q.components, q.by, q.listDeploys, DEPLOY_LIST_LIMIT]);
  });
  const r = rows[0];
  const days = (q.until.getTime() - q.since.getTime()) / 86_400_000;
  const total = r.figures.find((f) => f.total)!;
  const totals = figures(total, days);
  const out: DeliveryMetricsResponse = {
    environment: q.environment,
    since: q.since.toISOString(),
    until: q.until.toISOString(),
    days,
    by: q.by,
    components: q.components,
    totals: {
      ...totals,
      developers: total.developers,
      components: total.components,
      deploysPerDeveloperPerDay: total.developers ? total.deploys / total.developers / days : null,
      running: r.running,
      cancelled: r.cancelled,
    },
    perDay: r.days,
    groups: r.figures
      .filter((f) => !f.total)
      .map((f) => ({ key: f.key ?? '', ...figures(f, days) }))
      .sort((a, b) => b.deploys - a.deploys || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
  if (q.listDeploys) {
    out.deploys = (r.deploys ?? []).map((d) => ({
      id: d.id,
      component: d.component,
      version: d.version,
      developer: d.developer,
      actor: d.actor,
      triggerId: d.trigger_id,
      status: d.status,
      regions: d.regions,
      startedAt: iso(d.started_at)!,
      finishedAt: iso(d.finished_at),
      commit: d.commit,
      committedAt: iso(d.committed_at),
      leadTimeSeconds: d.lead_seconds,
      leadTimeFrom: d.lead_from,
      restoredAt: iso(d.restored_at),
      timeToRestoreSeconds: d.restore_seconds,
    }));
    out.deploysOmitted = Math.max(0, r.started - out.deploys.length);
  }
  return out;
}
