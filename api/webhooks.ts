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
 *
 * A push is recorded as the trigger instance `github.push.<delivery>` and goes through the dispatcher
 * (api/trigger-dispatch.ts): the work above is the built-in handler of `github.push` (and of the git
 * sensor's `git.push`), and rules on `github.push` match it too.
 */
import { Router } from 'express';
import { verify } from '@octokit/webhooks-methods';
import type { ApiDeps, RouterDeps } from './deps.js';
import { startPushWork } from './push-work.js';
import type { BuiltinHandler } from './trigger-dispatch.js';
import { ApiError } from './errors.js';
import { route } from './http.js';

interface PushPayload {
  ref?: string;
  before?: string;
  after?: string;
  deleted?: boolean;
  compare?: string;
  head_commit?: { id?: string; message?: string; timestamp?: string; author?: { name?: string; email?: string; username?: string } } | null;
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

/**
 * What a push says that delivery metrics need once its payload is gone (db/triggers.ts drops it after
 * dispatch): the pushed commit, its timestamp (ISO 8601, only when GitHub's parses) and its author.
 */
export function pushMetadata(payload: PushPayload): Record<string, unknown> {
  const head = payload.head_commit ?? undefined;
  const at = typeof head?.timestamp === 'string' ? Date.parse(head.timestamp) : NaN;
  const author = head?.author?.username || head?.author?.name;
  return {
    commit: payload.after ?? null,
    committedAt: Number.isNaN(at) ? null : new Date(at).toISOString(),
    author: typeof author === 'string' && author ? author.slice(0, 200) : null,
  };
}

export function webhooksRouter({ config, logger, http, dispatcher }: RouterDeps): Router {
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
    // Recorded as a github.push trigger instance: its id is the delivery's, so a redelivery is a duplicate.
    const d = await dispatcher.receive({
      id: `github.push.${delivery}`,
      type: 'github.push',
      source: 'webhook github',
      deliveryId: delivery,
      payload,
      metadata: pushMetadata(payload),
    });
    const githubRun = d.runs.find((r) => r.kind === 'github-push');
    const packs = d.runs.filter((r) => r.kind === 'ingest').map((r) => r.workflowId.slice(`ingest-push.${delivery}.`.length));
    if (!d.duplicate) logger.info({ delivery, repository: repo.full_name, ref: payload.ref, runs: d.runs.map((r) => r.workflowId) }, 'github push received');
    res.status(d.duplicate ? 200 : 202).json({
      delivery,
      trigger: d.trigger,
      ...(d.duplicate ? { duplicate: true } : {}),
      ...(githubRun ? { workflowId: githubRun.workflowId } : {}),
      components: (d.extra?.components as string[] | undefined) ?? [],
      packs,
      matched: d.matched,
      runs: d.runs,
      ...(d.runs.length ? {} : { ignored: d.note ?? 'nothing to start' }),
    });
  });
  return router;
}

/**
 * A push reported as a `github.push` (this route) or a `git.push` (the git sensor) trigger starts the
 * pipelines of the components whose repository it is and re-ingests the packs that follow it
 * (api/push-work.ts), besides whatever rules match.
 */
export function pushBuiltins(deps: ApiDeps): Record<string, BuiltinHandler> {
  const github: BuiltinHandler = async (t) => {
    const payload = t.payload as PushPayload;
    const repo = payload.repository ?? {};
    const w = await startPushWork(deps, {
      delivery: t.deliveryId ?? t.id,
      triggerId: t.id,
      ref: payload.ref ?? '',
      after: payload.after ?? '',
      before: payload.before ?? null,
      compare: payload.compare ?? null,
      urls: [repo.clone_url, repo.ssh_url, repo.html_url, repo.git_url, repo.url].filter((u): u is string => typeof u === 'string'),
      fullName: repo.full_name ?? null,
      defaultBranch: repo.default_branch ?? repo.master_branch ?? null,
      pusher: payload.pusher?.name ?? 'unknown',
      author: payload.head_commit?.author?.username ?? payload.head_commit?.author?.name ?? null,
      message: payload.head_commit?.message?.split('\n')[0]?.slice(0, 200) ?? null,
      enterprise: payload.enterprise?.slug ?? null,
    });
    return { runs: w.runs, ...(w.ignored ? { note: w.ignored } : {}), extra: { components: w.components } };
  };
  const gitPoll: BuiltinHandler = async (t) => {
    const p = t.payload as { repository?: string; ref?: string; before?: string | null; after?: string };
    if (typeof p.repository !== 'string' || typeof p.after !== 'string' || typeof p.ref !== 'string')
      return { runs: [], note: 'not a push (repository, ref, after)' };
    const w = await startPushWork(deps, {
      delivery: t.id.replace(/[^\w.-]/g, '-'),
      triggerId: t.id,
      ref: p.ref,
      after: p.after,
      before: p.before ?? null,
      compare: null,
      urls: [p.repository],
      fullName: null,
      defaultBranch: null,
      pusher: t.source,
      author: null,
      message: null,
      enterprise: null,
    });
    return { runs: w.runs, ...(w.ignored ? { note: w.ignored } : {}) };
  };
  return { 'github.push': github, 'git.push': gitPoll };
}
