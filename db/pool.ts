/** The one place a Postgres pool is made. Every SQL statement lives in db/; other folders pass the pool along. */
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a statement: the pool, or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient;

export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Answers when the database does (GET /healthz). */
export async function ping(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/** Codes of errors that say the database is not reachable now (down, restarting), not that a statement is wrong. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

/** The database is down or restarting (connection refused or cut, shutting down, starting up, too many clients). */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && (UNREACHABLE.has(e.code) || e.code.startsWith('08'))) return true;
  return typeof e.message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message);
}

/**
 * Runs `fn` again, every second, while the database is unreachable — for work whose outcome must not
 * be lost to a database restart (what an action's script did). Gives up after `maxMs`, or when `signal`
 * aborts; any other error is thrown at once.
 */
export async function whileUnreachable<T>(
  fn: () => Promise<T>,
  o: { maxMs: number; signal?: AbortSignal; onWait?: (err: unknown, waitedMs: number) => void },
): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const waited = Date.now() - started;
      if (!isUnreachable(err) || waited >= o.maxMs || o.signal?.aborted) throw err;
      o.onWait?.(err, waited);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
