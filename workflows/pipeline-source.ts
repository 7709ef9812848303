/** Reads a component's pipeline files at a ref on a regional worker (activities/pipeline-source.ts), for the API to validate before a run starts. */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { PipelineSourceInput, PipelineSourceResult } from '../activities/pipeline-source.js';

type Activities = ReturnType<typeof createActivities>;

const { readPipelineFiles } = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['BadRef', 'GitSourceRefused', 'UnknownRef', 'NoPipelines', 'TooManyPipelines', 'PipelineTooLarge'] },
  summary: 'read .stackwire/pipelines at the ref',
});

export async function readPipelineSource(input: PipelineSourceInput): Promise<PipelineSourceResult> {
  return readPipelineFiles(input);
}
