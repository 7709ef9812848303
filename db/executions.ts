/** Execution records: written by the worker's activities, read by the API. */
import type { Pool } from './pool.js';
import type { ExecutionRecord } from '../common/api-types.js';

export type { ExecutionRecord } from '../common/api-types.js';

interface Row {
  id: string;
  workflow_id: string;
  run_id: string | null;
  parent_id: string | null;
  action: string;
  action_version: number;
  region: string;
  parameters: Record<string, unknown>;
  argv: string[];
  status: string;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  error: string | null;
  worker: string | null;
  attempt: number;
  actor: string;
  trigger: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

function fromRow(r: Row): ExecutionRecord {
  return {
    id: r.id,
    workflowId: r.workflow_id,
    runId: r.run_id,
    parentId: r.parent_id,
    action: r.action,
    actionVersion: r.action_version,
    region: r.region,
    parameters: r.parameters,
    argv: r.argv,
    status: r.status,
    exitCode: r.exit_code,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    stdoutTruncated: r.stdout_truncated,
    stderrTruncated: r.stderr_truncated,
    error: r.error,
    worker: r.worker,
    attempt: r.attempt,
    actor: r.actor,
    trigger: r.trigger,
    createdAt: r.created_at.toISOString(),
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: r.finished_at?.toISOString() ?? null,
    durationMs: r.started_at && r.finished_at ? r.finished_at.getTime() - r.started_at.getTime() : null,
  };
}

export interface ExecutionStart {
  id: string;
  workflowId: string;
  runId: string;
  parentId?: string;
  action: string;
  actionVersion: number;
  region: string;
  parameters: Record<string, unknown>;
  argv: string[];
  worker: string;
  attempt: number;
  actor: string;
  trigger: string;
}

/**
 * Records an attempt's start; answers the next sequence number of its log (a retry's lines follow the
 * last attempt's). Idempotent: a retried attempt or a replayed activity overwrites the same row.
 */
export async function recordStart(pool: Pool, e: ExecutionStart): Promise<{ nextLogSeq: number }> {
  const { rows } = await pool.query<{ next_log_seq: number }>(
    `INSERT INTO executions (id, workflow_id, run_id, parent_id, action, action_version, region, parameters, argv, status, worker, attempt, actor, trigger, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', $10, $11, $12, $13, now())
     ON CONFLICT (id) DO UPDATE SET status = 'running', run_id = EXCLUDED.run_id, worker = EXCLUDED.worker, attempt = EXCLUDED.attempt,
       started_at = now(), finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL, stdout = '', stderr = ''
     RETURNING (SELECT COALESCE(MAX(seq), 0) + 1 FROM execution_logs WHERE execution_id = $1)::int AS next_log_seq`,
    [
      e.id,
      e.workflowId,
      e.runId,
      e.parentId ?? null,
      e.action,
      e.actionVersion,
      e.region,
      JSON.stringify(e.parameters),
      JSON.stringify(e.argv),
      e.worker,
      e.attempt,
      e.actor,
      e.trigger,
    ],
  );
  return { nextLogSeq: rows[0].next_log_seq };
}

export interface ExecutionFinish {
  id: string;
  /** The attempt that ends: only its own row is written (a stale attempt never overwrites a newer one). */
  attempt: number;
  /**
   * "running" for a failed attempt that will be retried, or for one that Temporal no longer holds
   * (its heartbeat timed out, its worker shut down): the workflow decides what happens next.
   */
  status: 'running' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  error: string | null;
}

/**
 * Records how an attempt ended, on its own row only: the row must still be at this attempt and not
 * ended. A row the workflow has marked `lost` in the meantime stays lost (the operator decides), and
 * gets the attempt's output and how its script ended appended to the note: that is what the operator
 * decides on.
 */
export async function recordFinish(pool: Pool, f: ExecutionFinish, logs: { seq: number; stream: string; data: string }[] = []): Promise<void> {
  // The output's last lines go in with the end, in the same statement: one round trip and one commit.
  // A retried statement writes the same (execution, seq) again: the first is kept.
  const withLogs = logs.length
    ? `WITH logged AS (
         INSERT INTO execution_logs (execution_id, seq, stream, data)
         SELECT $1, l.seq, l.stream, l.data FROM unnest($11::int[], $12::text[], $13::text[]) AS l(seq, stream, data)
         ON CONFLICT DO NOTHING)
       `
    : '';
  await pool.query(
    `${withLogs}UPDATE executions SET
       status = CASE WHEN status = 'lost' THEN 'lost' ELSE $2 END,
       exit_code = $3, signal = $4, stdout = $5, stderr = $6, stdout_truncated = $7, stderr_truncated = $8,
       error = CASE WHEN status = 'lost' THEN concat_ws('; ', error, 'the attempt ended: ' || COALESCE($9, $2)) ELSE $9 END,
       finished_at = CASE WHEN status = 'lost' THEN NULL ELSE now() END
     WHERE id = $1 AND attempt = $10 AND status IN ('running', 'lost')`,
    [
      f.id,
      f.status,
      f.exitCode,
      f.signal,
      f.stdout,
      f.stderr,
      f.stdoutTruncated,
      f.stderrTruncated,
      f.error,
      f.attempt,
      ...(logs.length ? [logs.map((l) => l.seq), logs.map((l) => l.stream), logs.map((l) => l.data)] : []),
    ],
  );
}

/** For runs that ended before their activity ever started (cancelled while scheduled). */
export async function recordOutcomeWithoutStart(pool: Pool, e: Omit<ExecutionStart, 'worker' | 'attempt'> & { status: string; error: string }): Promise<void> {
  await pool.query(
    `INSERT INTO executions (id, workflow_id, run_id, parent_id, action, action_version, region, parameters, argv, status, error, actor, trigger, attempt, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, now())
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
       error = COALESCE(executions.error, EXCLUDED.error), finished_at = COALESCE(executions.finished_at, now())
     WHERE executions.status IN ('scheduled', 'running', 'lost')`,
    [
      e.id,
      e.workflowId,
      e.runId,
      e.parentId ?? null,
      e.action,
      e.actionVersion,
      e.region,
      JSON.stringify(e.parameters),
      JSON.stringify(e.argv),
      e.status,
      e.error,
      e.actor,
      e.trigger,
    ],
  );
}

export async function getExecution(pool: Pool, id: string): Promise<ExecutionRecord | undefined> {
  const { rows } = await pool.query<Row>('SELECT * FROM executions WHERE id = $1', [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export async function listExecutions(pool: Pool, opts: { action?: string; limit: number; parentId?: string }): Promise<ExecutionRecord[]> {
  const { rows } = await pool.query<Row>(
    `SELECT * FROM executions WHERE ($1::text IS NULL OR action = $1) AND ($2::text IS NULL OR parent_id = $2)
     ORDER BY created_at DESC LIMIT $3`,
    [opts.action ?? null, opts.parentId ?? null, opts.limit],
  );
  return rows.map(fromRow);
}

/**
 * A lost run's state: `lost` (its worker died mid-run; the error says when and what) while it waits for
 * an operator, then what the operator decided. Only a run that is not over changes. When the lost
 * attempt itself recorded how it ended first (a worker that woke to find Temporal had let its attempt
 * go), that stays in the note.
 */
export async function recordLost(pool: Pool, id: string, status: 'lost' | 'succeeded' | 'failed', note: string, attempt?: number): Promise<void> {
  await pool.query(
    `UPDATE executions SET status = $2,
       error = CASE
         WHEN $2 = 'lost' AND attempt = $4 AND status = 'running' AND finished_at IS NOT NULL AND error IS NOT NULL THEN $3 || '; the attempt ended: ' || error
         WHEN $2 = 'lost' OR error IS NULL THEN $3
         ELSE error || '; ' || $3 END,
       finished_at = CASE WHEN $2 = 'lost' THEN NULL ELSE now() END
     WHERE id = $1 AND status IN ('scheduled', 'running', 'lost')`,
    [id, status, note, attempt ?? null],
  );
}
