/**
 * Ingest as an activity: heartbeats its progress so a long ingest of a large tree stays alive and
 * visible, stores its report in Postgres (`ingests`, `ingest_items`) in the transaction that applies
 * the pack, and returns only the summary — the workflow's history holds a few hundred bytes whatever
 * the size of the pack.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { IngestSummary } from '../common/api-types-ingest.js';
import { recordIngestFailure, recordIngestReport, recordedSummary, summarize } from '../db/ingests.js';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { IngestError, ingest, type IngestRequest } from '../ingest/ingest.js';

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

type IngestDeps = { pool: Pool; region: string; scriptEnv: Record<string, string>; git: Config['git']; ingestPaths: string[] };

/** The ingest's id: its workflow's id. */
function ingestId(ctx: Context): string {
  const id = ctx.info.workflowExecution?.workflowId;
  if (!id) throw ApplicationFailure.nonRetryable('ingestPack runs only in a packIngest workflow (its id is the ingest id)', 'IngestFailed');
  return id;
}

/** The blob an upload's manifest is in, when it went by reference. */
function manifestBlob(req: IngestRequest): string | null {
  return req.source.kind === 'upload' && 'manifestBlob' in req.source ? req.source.manifestBlob : null;
}

export function createIngestPack(deps: IngestDeps) {
  return async function ingestPack(req: IngestRequest): Promise<IngestSummary> {
    const ctx = Context.current();
    const id = ingestId(ctx);
    const progress = progressHeartbeat((d) => ctx.heartbeat(d));
    // An earlier attempt committed the pack and its report but its completion was lost (the worker
    // died): that report stands; ingesting again would report every action "unchanged".
    const recorded = await recordedSummary(deps.pool, id);
    if (recorded) return recorded;
    try {
      const report = await ingest(
        {
          pool: deps.pool,
          env: deps.scriptEnv,
          git: deps.git,
          ingestPaths: deps.ingestPaths,
          progress,
          signal: ctx.cancellationSignal,
          record: async (client, r) => {
            await recordIngestReport(client, { id, actor: null, region: deps.region, manifestBlob: manifestBlob(req) }, r, (done, total) =>
              progress('storing the report', done, total),
            );
          },
        },
        req,
      );
      return summarize(id, report);
    } catch (err) {
      if (err instanceof IngestError || (err instanceof Error && /^[^:]+:\d+:\d+:|would be named|not a valid schema/.test(err.message))) {
        throw ApplicationFailure.nonRetryable(err.message, 'IngestFailed');
      }
      throw err;
    }
  };
}

/** Records an ingest that failed (the workflow calls it, whatever ended the attempts: a bad pack, a timeout, a lost worker). */
export function createRecordIngestFailure(deps: { pool: Pool; region: string }) {
  return async function recordIngestFailed(req: IngestRequest, message: string): Promise<void> {
    const id = ingestId(Context.current());
    const source: Record<string, unknown> = req.source.kind === 'upload' ? { kind: 'upload', location: req.source.location ?? null } : { ...req.source };
    await recordIngestFailure(
      deps.pool,
      { id, pack: req.pack, mode: req.mode, source, actor: null, region: deps.region, manifestBlob: manifestBlob(req) },
      message,
    );
  };
}
