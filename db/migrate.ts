/**
 * Versioned SQL migrations (db/migrations/*.sql) run by node-pg-migrate, all pending ones in a
 * single transaction under an advisory lock: a migration that fails leaves the schema as it was.
 */
import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { PROJECT_ROOT } from '../lib/config.js';

export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'db', 'migrations');

export interface MigrateResult {
  applied: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function migrate(databaseUrl: string, opts: { dir?: string; log?: (msg: string) => void } = {}): Promise<MigrateResult> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  try {
    const ran = await runner({
      databaseUrl,
      dir,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      singleTransaction: true,
      checkOrder: true,
      log: () => undefined,
      logger: { debug: () => undefined, info: () => undefined, warn: (m: string) => opts.log?.(m), error: (m: string) => opts.log?.(m) },
    });
    return { applied: ran.map((m) => m.name) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new MigrationError(
      `database migration failed, nothing was changed: ${msg}. Fix the migration in ${dir} (or the database it points at) and start again.`,
    );
  }
}
