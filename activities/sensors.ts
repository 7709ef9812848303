/**
 * What the polling sensors read (workflows/sensors.ts): the Sensu events of a namespace, diffed against
 * the statuses the workflow knows (only the changes go back into history), and the commit a git branch
 * points at (`git ls-remote`, under the git source policy). Both only read: safe to retry.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { gitUrlProblem } from '../common/git-url.js';
import { GIT_BRANCH, diffSensuEvents, type SensuDiff } from '../common/sensors.js';
import { git, withGitScratch } from '../lib/git.js';
import type { ActivityDeps } from './run-action.js';

export interface PollSensuInput {
  namespace: string;
  /** Last known status per `entity/check`; absent on the first poll (which records the baseline). */
  known?: Record<string, number>;
}

export interface GitHeadInput {
  url: string;
  branch: string;
}

export function createSensorActivities(deps: Pick<ActivityDeps, 'sensu' | 'git' | 'scriptEnv'>) {
  return {
    async pollSensuEvents(input: PollSensuInput): Promise<SensuDiff> {
      if (!deps.sensu)
        throw ApplicationFailure.nonRetryable(
          'no Sensu backend is configured on this worker (SENSU_API_URL and SENSU_API_KEY); set them and restart the workers',
          'SensuNotConfigured',
        );
      const events = await deps.sensu.listEvents(input.namespace);
      return diffSensuEvents(input.known, events);
    },

    /** The commit `refs/heads/<branch>` points at in the repository, or null when there is no such branch. */
    async gitBranchHead(input: GitHeadInput): Promise<{ sha: string | null }> {
      const problem = gitUrlProblem(input.url, deps.git);
      if (problem) throw ApplicationFailure.nonRetryable(problem, 'GitSourceRefused');
      if (!GIT_BRANCH.test(input.branch)) throw ApplicationFailure.nonRetryable(`${JSON.stringify(input.branch)} is not a branch name`, 'BadRef');
      const ref = `refs/heads/${input.branch}`;
      const out = await withGitScratch('stackwire-sensor-', { policy: deps.git, baseEnv: deps.scriptEnv, signal: Context.current().cancellationSignal }, (g) =>
        git(g, ['ls-remote', '--refs', input.url, ref]),
      );
      for (const line of out.split('\n')) {
        const [sha, name] = line.split('\t');
        if (name === ref && /^[0-9a-f]{40,64}$/.test(sha ?? '')) return { sha };
      }
      return { sha: null };
    },
  };
}
