/** Ingest of a pack into the catalog, on a region's worker (it needs python3 and git, like scripts do). */
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { IngestReport, IngestRequest } from '../ingest/ingest.js';

type Activities = ReturnType<typeof createActivities>;

export async function packIngest(req: IngestRequest): Promise<IngestReport> {
  const { ingestPack } = proxyActivities<Activities>({
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['IngestFailed'] },
    summary: `ingest ${req.pack} (${req.source.kind}, ${req.mode})`,
  });
  setCurrentDetails(`ingesting ${req.pack} from ${req.source.kind} (${req.mode})`);
  const report = await ingestPack(req);
  const s = report.summary;
  setCurrentDetails(`${req.pack}: ${s.added} added, ${s.changed} changed, ${s.unchanged} unchanged, ${s.removed} removed, ${s.warnings} warnings`);
  return report;
}
