/**
 * `githubPush`: one GitHub push delivery (its id is the workflow's, so a redelivery starts nothing new).
 * For each component whose repository was pushed, a regional worker reads and validates its pipelines
 * at the pushed commit (activities/pipeline-push.ts); those whose `on: push` matches start as runs of
 * their own (children left running when this workflow ends), with the push as their `trigger`.
 */
import { ParentClosePolicy, proxyActivities, setCurrentDetails, startChild } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { PushRunsResult } from '../activities/pipeline-push.js';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import { pipelineRun } from './pipeline-run.js';

type Activities = ReturnType<typeof createActivities>;

export interface GithubPushInput {
  delivery: string;
  /** The trigger instance the push is recorded as (absent in runs started before it was passed): the runs' `trigger.id`. */
  triggerId?: string;
  ref: string;
  commit: string;
  before: string | null;
  compare: string | null;
  repository: string;
  pusher: string;
  author: string | null;
  message: string | null;
  enterprise: string | null;
  components: { name: string; repository: string }[];
  defaultRegion: string;
  regions: string[];
}

export interface GithubPushResult {
  started: string[];
  skipped: { component: string; pipeline: string; reason: string }[];
  problems: string[];
}

export async function githubPush(input: GithubPushInput): Promise<GithubPushResult> {
  const { preparePushRuns } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['GitSourceRefused', 'UnknownRef', 'BadRef', 'TooManyPipelines', 'PipelineTooLarge'] },
    taskQueue: regionTaskQueue(input.defaultRegion),
    summary: 'read and validate the pipelines at the pushed commit',
  });
  const trigger = {
    kind: 'push',
    ...(input.triggerId ? { id: input.triggerId } : {}),
    delivery: input.delivery,
    repository: input.repository,
    ref: input.ref,
    commit: input.commit,
    before: input.before,
    compare: input.compare,
    pusher: input.pusher,
    author: input.author,
    message: input.message,
    ...(input.enterprise ? { enterprise: input.enterprise } : {}),
  };
  const prepared: (PushRunsResult & { component: string })[] = await Promise.all(
    input.components.map(async (c) => ({
      component: c.name,
      ...(await preparePushRuns({
        delivery: input.delivery,
        component: c.name,
        repository: c.repository,
        commit: input.commit,
        ref: input.ref,
        trigger,
        actor: `github:${input.pusher}`,
        defaultRegion: input.defaultRegion,
        regions: input.regions,
      })),
    })),
  );
  const started: string[] = [];
  for (const p of prepared)
    for (const run of p.runs) {
      await startChild(pipelineRun, {
        workflowId: run.runId,
        taskQueue: regionTaskQueue(run.defaultRegion),
        args: [run],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `pipeline ${run.definition.name} of ${p.component} for the push to ${input.ref} (${input.commit.slice(0, 12)})`,
        typedSearchAttributes: [
          { key: SearchAttributes.Pipeline, value: run.definition.name },
          { key: SearchAttributes.Component, value: p.component },
          { key: SearchAttributes.Trigger, value: 'push' },
          { key: SearchAttributes.Actor, value: run.actor },
        ],
      });
      started.push(run.runId);
    }
  const skipped = prepared.flatMap((p) => p.skipped.map((s) => ({ component: p.component, ...s })));
  const problems = prepared.flatMap((p) => p.problems);
  setCurrentDetails(
    `${started.length} pipeline run(s) started${skipped.length ? `, ${skipped.length} not for this push` : ''}${problems.length ? `, ${problems.length} problem(s)` : ''}`,
  );
  return { started, skipped, problems };
}
