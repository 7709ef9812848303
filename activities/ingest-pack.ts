/** Ingest as an activity: heartbeats its progress so a long ingest of a large tree stays alive and visible. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from '../db/pool.js';
import { IngestError, ingest, type IngestReport, type IngestRequest } from '../ingest/ingest.js';

export function createIngestPack(deps: { pool: Pool; scriptEnv: Record<string, string> }) {
  return async function ingestPack(req: IngestRequest): Promise<IngestReport> {
    const ctx = Context.current();
    let last = 0;
    try {
      return await ingest(
        {
          pool: deps.pool,
          env: deps.scriptEnv,
          progress: (phase, done, total) => {
            if (Date.now() - last > 500) {
              last = Date.now();
              ctx.heartbeat({ phase, done, total });
            }
          },
        },
        req,
      );
    } catch (err) {
      if (err instanceof IngestError || (err instanceof Error && /^[^:]+:\d+:\d+:|would be named|not a valid schema/.test(err.message))) {
        throw ApplicationFailure.nonRetryable(err.message, 'IngestFailed');
      }
      throw err;
    }
  };
}
