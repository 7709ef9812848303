/**
 * POST /api/v1/webhooks/github: GitHub and GitHub Enterprise Server deliveries.
 *
 * The signature (X-Hub-Signature-256: HMAC-SHA256 of the raw body with the configured secret, compared
 * in constant time by @octokit/webhooks-methods) is checked before anything else is read: unsigned or
 * wrong is a 401, nothing started, and an audit row. `ping` is answered. A `push` to a repository that
 * components of the source of truth use starts the `githubPush` workflow under an id made of the
 * delivery id, so a redelivery starts nothing new; the workflow reads each component's pipelines at
 * the pushed commit and starts those whose `on: push` filters match. A push to the branch of a pack
 * ingested from git (a scripts repository: `stackwire pack add`) re-ingests it (`ingest-push.<delivery>.<pack>`). The answer leaves at once (202):
 * the work happens in workflows.
 */
import { Router } from 'express';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { verify } from '@octokit/webhooks-methods';
import { regionTaskQueue } from '../common/constants.js';
import { sameRepository } from '../common/git-url.js';
import { listPacks } from '../db/packs.js';
import { listComponents } from '../db/sot.js';
import { githubPush, packIngest } from '../workflows/index.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { route } from './http.js';

interface PushPayload {
  ref?: string;
  before?: string;
  after?: string;
  deleted?: boolean;
  compare?: string;
  head_commit?: { id?: string; message?: string; author?: { name?: string; email?: string; username?: string } } | null;
  pusher?: { name?: string; email?: string };
  repository?: {
    full_name?: string;
    clone_url?: string;
    ssh_url?: string;
    html_url?: string;
    git_url?: string;
    url?: string;
    default_branch?: string;
    master_branch?: string;
  };
  enterprise?: { slug?: string };
  installation?: { id?: number };
}

export function webhooksRouter({ client, pool, config, logger, http }: RouterDeps): Router {
  const router = Router();
  route(router, 'POST /api/v1/webhooks/github', http, async (req, res) => {
    const secret = config.api.githubWebhookSecret;
    if (!secret)
      throw new ApiError(
        503,
        'webhook_not_configured',
        'this API has no STACKWIRE_GITHUB_WEBHOOK_SECRET: set it, and the same secret in the webhook settings on GitHub.',
      );
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const signature = req.header('x-hub-signature-256');
    const event = req.header('x-github-event') ?? '';
    const delivery = req.header('x-github-delivery') ?? '';
    req.audit = { target: `github ${event || '(no event)'} ${delivery || '(no delivery id)'}`, parameters: { event, delivery } };
    if (!signature || !(await verify(secret, raw.toString('utf8'), signature).catch(() => false)))
      throw new ApiError(
        401,
        'bad_signature',
        `the delivery is ${signature ? 'not signed with the configured secret' : 'not signed (no X-Hub-Signature-256)'}; nothing was started.`,
      );
    if (!/^[\w-]{1,100}$/.test(delivery)) throw new ApiError(400, 'no_delivery_id', 'X-GitHub-Delivery is missing or not a delivery id.');
    let payload: PushPayload;
    try {
      payload = JSON.parse(raw.toString('utf8')) as PushPayload;
    } catch {
      throw new ApiError(400, 'invalid_json', 'the delivery is not JSON; set the webhook content type to application/json.');
    }
    if (event === 'ping') return void res.json({ pong: true, delivery });
    if (event !== 'push') return void res.status(202).json({ delivery, ignored: `${event || 'an unnamed'} event is not handled (push is)` });
    const repo = payload.repository ?? {};
    req.audit = { target: `${repo.full_name ?? '?'}@${payload.ref ?? '?'}`, parameters: { event, delivery, after: payload.after ?? null } };
    if (payload.deleted || !payload.after || /^0+$/.test(payload.after))
      return void res.status(202).json({ delivery, ignored: `${payload.ref ?? 'the ref'} was deleted` });
    const urls = [repo.clone_url, repo.ssh_url, repo.html_url, repo.git_url, repo.url].filter((u): u is string => typeof u === 'string');
    const components = (await listComponents(pool)).filter((c) => urls.some((u) => sameRepository(u, c.repository)));
    // Scripts repositories (packs ingested from git): re-ingested when their branch moves.
    const branch = /^refs\/heads\/(.+)$/.exec(payload.ref ?? '')?.[1];
    const followed = (p: { source: Record<string, unknown> }) =>
      typeof p.source.ref === 'string' && p.source.ref ? p.source.ref : (payload.repository?.default_branch ?? payload.repository?.master_branch);
    const packs = (await listPacks(pool)).filter(
      (p) =>
        p.source.kind === 'git' &&
        typeof p.source.url === 'string' &&
        urls.some((u) => sameRepository(u, String(p.source.url))) &&
        branch !== undefined &&
        branch === followed(p),
    );
    const reingested: string[] = [];
    for (const p of packs) {
      try {
        await client.workflow.start(packIngest, {
          taskQueue: regionTaskQueue(config.regions[0]),
          workflowId: `ingest-push.${delivery}.${p.name}`,
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          args: [{ pack: p.name, source: { kind: 'git', url: String(p.source.url), ref: branch! }, mode: 'apply' }],
          workflowExecutionTimeout: '35m',
          staticSummary: `re-ingest ${p.name} for the push to ${branch} (${payload.after.slice(0, 12)})`,
        });
        reingested.push(p.name);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
    if (!components.length) {
      if (packs.length)
        return void res
          .status(reingested.length ? 202 : 200)
          .json({ delivery, packs: packs.map((p) => p.name), ...(reingested.length ? {} : { duplicate: true }) });
      return void res.status(202).json({
        delivery,
        ignored: `no component of the source of truth or scripts repository uses ${repo.full_name ?? urls[0] ?? 'this repository'} (${payload.ref ?? ''})`,
      });
    }
    const workflowId = `github-push.${delivery}`;
    try {
      await client.workflow.start(githubPush, {
        taskQueue: regionTaskQueue(config.regions[0]),
        workflowId,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [
          {
            delivery,
            ref: payload.ref ?? '',
            commit: payload.after,
            before: payload.before ?? null,
            compare: payload.compare ?? null,
            repository: repo.full_name ?? urls[0] ?? '',
            pusher: payload.pusher?.name ?? 'unknown',
            author: payload.head_commit?.author?.username ?? payload.head_commit?.author?.name ?? null,
            message: payload.head_commit?.message?.split('\n')[0]?.slice(0, 200) ?? null,
            enterprise: payload.enterprise?.slug ?? null,
            components: components.map((c) => ({ name: c.name, repository: c.repository })),
            defaultRegion: config.regions[0],
            regions: config.regions,
          },
        ],
        staticSummary: `push to ${repo.full_name ?? '?'} ${payload.ref ?? ''} (${payload.after.slice(0, 12)})`,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return void res.json({ delivery, duplicate: true, workflowId, packs: packs.map((p) => p.name) });
      throw err;
    }
    logger.info({ delivery, repository: repo.full_name, ref: payload.ref, components: components.map((c) => c.name) }, 'github push received');
    res.status(202).json({ delivery, workflowId, components: components.map((c) => c.name), packs: reingested });
  });
  return router;
}
