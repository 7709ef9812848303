/**
 * What a push to a repository starts, whoever reported it (a signed GitHub delivery, or the git sensor
 * polling a repository that cannot send webhooks): the `githubPush` workflow for the components whose
 * repository it is (their pipelines at the pushed commit), and a re-ingest of each pack ingested from
 * that repository's pushed branch. Workflow ids derive from the delivery id: a redelivery starts nothing new.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { TriggerRun } from '../common/api-types.js';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import { sameRepository } from '../common/git-url.js';
import { createIngest } from '../db/ingests.js';
import { listPacks } from '../db/packs.js';
import type { Pool } from '../db/pool.js';
import { listComponents } from '../db/sot.js';
import type { Config } from '../lib/config.js';
import { githubPush, packIngest } from '../workflows/index.js';
import type { Client } from '@temporalio/client';

export interface Push {
  delivery: string;
  /** The trigger instance it is recorded as. */
  triggerId: string;
  ref: string;
  after: string;
  before: string | null;
  compare: string | null;
  /** Every URL the repository is known by (clone, ssh, html …). */
  urls: string[];
  /** owner/name when known. */
  fullName: string | null;
  defaultBranch: string | null;
  pusher: string;
  author: string | null;
  message: string | null;
  enterprise: string | null;
}

export interface PushWork {
  components: string[];
  packs: string[];
  runs: TriggerRun[];
  /** Why nothing was started, when nothing was. */
  ignored?: string;
}

async function started(start: () => Promise<unknown>): Promise<boolean> {
  try {
    await start();
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

export async function startPushWork({ client, pool, config }: { client: Client; pool: Pool; config: Config }, push: Push): Promise<PushWork> {
  const components = (await listComponents(pool)).filter((c) => push.urls.some((u) => sameRepository(u, c.repository)));
  const branch = /^refs\/heads\/(.+)$/.exec(push.ref)?.[1];
  const followed = (p: { source: Record<string, unknown> }) =>
    typeof p.source.ref === 'string' && p.source.ref ? p.source.ref : (push.defaultBranch ?? undefined);
  const packs = (await listPacks(pool)).filter(
    (p) =>
      p.source.kind === 'git' &&
      typeof p.source.url === 'string' &&
      push.urls.some((u) => sameRepository(u, String(p.source.url))) &&
      branch !== undefined &&
      branch === followed(p),
  );
  const runs: TriggerRun[] = [];
  for (const p of packs) {
    const workflowId = `ingest-push.${push.delivery}.${p.name}`;
    // Its report is read like any other ingest's (GET /api/v1/ingests/:id); a redelivery finds the row.
    await createIngest(pool, {
      id: workflowId,
      pack: p.name,
      mode: 'apply',
      source: { kind: 'git', url: String(p.source.url), ref: branch! },
      actor: `push:${push.pusher}`,
      region: config.regions[0],
    });
    await started(() =>
      client.workflow.start(packIngest, {
        taskQueue: regionTaskQueue(config.regions[0]),
        workflowId,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [{ pack: p.name, source: { kind: 'git', url: String(p.source.url), ref: branch! }, mode: 'apply' }],
        workflowExecutionTimeout: '35m',
        staticSummary: `re-ingest ${p.name} for the push to ${branch} (${push.after.slice(0, 12)})`,
        typedSearchAttributes: [
          { key: SearchAttributes.Trigger, value: 'push' },
          { key: SearchAttributes.TriggerId, value: push.triggerId },
        ],
      }),
    );
    runs.push({ workflowId, kind: 'ingest' });
  }
  if (components.length) {
    const workflowId = `github-push.${push.delivery}`;
    await started(() =>
      client.workflow.start(githubPush, {
        taskQueue: regionTaskQueue(config.regions[0]),
        workflowId,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [
          {
            delivery: push.delivery,
            triggerId: push.triggerId,
            ref: push.ref,
            commit: push.after,
            before: push.before,
            compare: push.compare,
            repository: push.fullName ?? push.urls[0] ?? '',
            pusher: push.pusher,
            author: push.author,
            message: push.message,
            enterprise: push.enterprise,
            components: components.map((c) => ({ name: c.name, repository: c.repository })),
            defaultRegion: config.regions[0],
            regions: config.regions,
          },
        ],
        staticSummary: `push to ${push.fullName ?? push.urls[0] ?? '?'} ${push.ref} (${push.after.slice(0, 12)})`,
        typedSearchAttributes: [
          { key: SearchAttributes.Trigger, value: 'push' },
          { key: SearchAttributes.TriggerId, value: push.triggerId },
        ],
      }),
    );
    runs.push({ workflowId, kind: 'github-push' });
  }
  return {
    components: components.map((c) => c.name),
    packs: packs.map((p) => p.name),
    runs,
    ...(runs.length
      ? {}
      : { ignored: `no component of the source of truth or scripts repository uses ${push.fullName ?? push.urls[0] ?? 'this repository'} (${push.ref})` }),
  };
}
