/** Which components changed since a tag (their repositories are read by a region's worker, which has git). */
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

type Activities = ReturnType<typeof createActivities>;

export async function releaseSelection(input: {
  tag: string;
  components: { name: string; repository: string }[];
}): Promise<{ changed: { name: string; version: string; commits: number }[]; unchanged: string[]; warnings: string[] }> {
  const { changedSince } = proxyActivities<Activities>({
    startToCloseTimeout: '30m',
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['BadTag'] },
    summary: `changes since ${input.tag}`,
  });
  setCurrentDetails(`looking for changes since ${input.tag} in ${input.components.length} repositories`);
  return changedSince(input);
}
