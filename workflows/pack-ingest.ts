/**
 * Ingest of a pack into the catalog, on a region's worker (it needs python3 and git, like scripts do).
 * The report goes to Postgres (`ingests`, `ingest_items`); the workflow returns its summary only, and
 * an upload's manifest comes by reference (a blob id): no payload grows with the pack.
 */
import { CancellationScope, patched, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { IngestSummary } from '../common/api-types-ingest.js';
import type { IngestRequest } from '../ingest/ingest.js';
import { failureReason } from './action-steps.js';

type Activities = ReturnType<typeof createActivities>;

export async function packIngest(req: IngestRequest): Promise<IngestSummary> {
  const { ingestPack } = proxyActivities<Activities>({
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['IngestFailed'] },
    summary: `ingest ${req.pack} (${req.source.kind}, ${req.mode})`,
  });
  const { recordIngestFailed } = proxyActivities<Activities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 5 } });
  setCurrentDetails(`ingesting ${req.pack} from ${req.source.kind} (${req.mode})`);
  let result: IngestSummary;
  try {
    result = await ingestPack(req);
  } catch (err) {
    // Since this patch the report's row says why the ingest failed (it would stay `running` otherwise).
    if (patched('ingest-report-by-reference')) {
      const reason = failureReason(err);
      setCurrentDetails(`${req.pack}: failed, nothing was changed: ${reason}`);
      await CancellationScope.nonCancellable(() => recordIngestFailed(req, reason));
    }
    throw err;
  }
  const s = result.summary;
  setCurrentDetails(`${req.pack}: ${s.added} added, ${s.changed} changed, ${s.unchanged} unchanged, ${s.removed} removed, ${s.warnings} warnings`);
  return result;
}
