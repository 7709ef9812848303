/** Execution output as it is produced: appended by the worker, read (and followed) by the API. */
import type { Pool } from './pool.js';
import type { LogEntry } from '../common/api-types.js';

export type { LogEntry } from '../common/api-types.js';

export async function nextSeq(pool: Pool, executionId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM execution_logs WHERE execution_id = $1', [executionId]);
  return rows[0].n;
}

export async function appendLogs(pool: Pool, executionId: string, entries: { seq: number; stream: LogEntry['stream']; data: string }[]): Promise<void> {
  if (entries.length === 0) return;
  const values: unknown[] = [];
  const rows = entries.map((e, i) => {
    values.push(executionId, e.seq, e.stream, e.data);
    return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`;
  });
  // A retried flush writes the same (execution, seq) again: keep the first.
  await pool.query(`INSERT INTO execution_logs (execution_id, seq, stream, data) VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING`, values);
}

export async function readLogs(pool: Pool, executionId: string, after: number, limit = 1000): Promise<LogEntry[]> {
  const { rows } = await pool.query<{ seq: number; stream: LogEntry['stream']; data: string; created_at: Date }>(
    'SELECT seq, stream, data, created_at FROM execution_logs WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
    [executionId, after, limit],
  );
  return rows.map((r) => ({ seq: r.seq, stream: r.stream, data: r.data, at: r.created_at.toISOString() }));
}
