/** Ingest as an activity: heartbeats its progress so a long ingest of a large tree stays alive and visible. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { IngestError, ingest, type IngestReport, type IngestRequest } from '../ingest/ingest.js';

/** Progress as heartbeats, at most twice a second. */
export function progressHeartbeat(beat: (details: unknown) => void): (phase: string, done: number, total: number) => void {
  let last = 0;
  return (phase, done, total) => {
    if (Date.now() - last > 500) {
      last = Date.now();
      beat({ phase, done, total });
    }
  };
}

export function createIngestPack(deps: { pool: Pool; scriptEnv: Record<string, string>; git: Config['git']; ingestPaths: string[] }) {
  return async function ingestPack(req: IngestRequest): Promise<IngestReport> {
    const ctx = Context.current();
    try {
      return await ingest(
        {
          pool: deps.pool,
          env: deps.scriptEnv,
          git: deps.git,
          ingestPaths: deps.ingestPaths,
          progress: progressHeartbeat((d) => ctx.heartbeat(d)),
          signal: ctx.cancellationSignal,
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
