/** What sensors emitted, read from the trigger instances they recorded (their source is `sensor <name>`). */
import type { Queryable } from './pool.js';

export interface SensorEmitted {
  count: number;
  lastAt: Date | null;
}

/** Instances recorded per source (every generation and process of each sensor), for the sources given. */
export async function triggerCountsBySource(db: Queryable, sources: string[]): Promise<Map<string, SensorEmitted>> {
  const out = new Map<string, SensorEmitted>();
  if (!sources.length) return out;
  const { rows } = await db.query<{ source: string; n: string; last: Date | null }>(
    `SELECT source, count(*) AS n, max(received_at) AS last FROM triggers WHERE source = ANY($1::text[]) GROUP BY source`,
    [sources],
  );
  for (const r of rows) out.set(r.source, { count: Number(r.n), lastAt: r.last });
  return out;
}
