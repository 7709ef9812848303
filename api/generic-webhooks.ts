/**
 * Generic webhooks: POST /api/v1/webhooks/<name>, declared by an admin (POST /api/v1/webhooks) with how
 * a delivery proves itself:
 *   hmac  — `<header>: sha256=<hex HMAC-SHA256 of the raw body>` (default header X-Hub-Signature-256,
 *           as GitHub, Gitea and many others send it); the secret is kept sealed with the stack's key;
 *   token — `<header>: <token>` (default X-Stackwire-Token) or `Authorization: Bearer <token>`; only the
 *           token's SHA-256 is kept.
 * Both are compared in constant time; a delivery that does not prove itself is a 401, nothing started,
 * an audit row. The JSON body becomes a `webhook.<name>` trigger whose payload is `{ body, headers }`
 * (StackStorm's webhook payload shape), matched against the rules. A delivery id header
 * (X-Delivery-Id, X-GitHub-Delivery, X-Request-Id or Idempotency-Key) makes a redelivery a duplicate.
 */
import crypto from 'node:crypto';
import { Router, type Request } from 'express';
import type { WebhookCreateRequest, WebhookCreateResponse, WebhookDeliveryResponse, WebhookListResponse, WebhookView } from '../common/api-types.js';
import { deleteWebhook, getWebhook, insertWebhook, listWebhooks, type WebhookRow } from '../db/webhooks.js';
import { isSealed, seal, unseal } from '../lib/secrets.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { ownOrigin, principal, route } from './http.js';

const DEFAULT_HEADER = { hmac: 'X-Hub-Signature-256', token: 'X-Stackwire-Token' } as const;
const DELIVERY_HEADERS = ['x-delivery-id', 'x-github-delivery', 'x-request-id', 'idempotency-key'];
/** Headers that travel into the payload: what says what the event is, never what proves it. */
const PAYLOAD_HEADERS = ['content-type', 'user-agent', 'x-github-event', 'x-gitlab-event', 'x-event-type', ...DELIVERY_HEADERS];

const sha256 = (s: string | Buffer) => crypto.createHash('sha256').update(s).digest();

function equalConstantTime(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export function triggerIdFor(name: string, delivery: string | undefined): string {
  return delivery ? `webhook.${name}.${delivery}` : `webhook.${name}.${Date.now().toString(36)}-${crypto.randomBytes(6).toString('hex')}`;
}

export function genericWebhooksRouter({ pool, config, http, dispatcher }: RouterDeps): Router {
  const router = Router();
  const view = (req: Request, w: WebhookRow): WebhookView => ({
    name: w.name,
    auth: w.auth,
    header: w.header,
    description: w.description,
    url: `${ownOrigin(req)}/api/v1/webhooks/${w.name}`,
    triggerType: `webhook.${w.name}`,
    createdBy: w.createdBy,
    createdAt: w.createdAt.toISOString(),
  });

  route(router, 'POST /api/v1/webhooks', http, async (req, res) => {
    const body = req.body as WebhookCreateRequest;
    const p = principal(req);
    req.audit = { target: `webhook.${body.name}`, parameters: { auth: body.auth, header: body.header ?? null, secretGiven: body.secret !== undefined } };
    if (body.name === 'github')
      throw new ApiError(400, 'reserved_name', 'webhook "github" is the built-in GitHub endpoint (STACKWIRE_GITHUB_WEBHOOK_SECRET); choose another name.');
    const key = config.secretKey;
    if (body.auth === 'hmac' && !key)
      throw new ApiError(
        503,
        'no_secret_key',
        'this API has no STACKWIRE_SECRET_KEY to keep an HMAC secret with; set it (npm start does) and restart the API.',
      );
    const generated = body.secret === undefined;
    const secret = body.secret ?? crypto.randomBytes(32).toString('base64url');
    const row = {
      name: body.name,
      auth: body.auth,
      secret: body.auth === 'hmac' ? JSON.stringify(seal(secret, key!)) : null,
      tokenSha256: body.auth === 'token' ? sha256(secret).toString('hex') : null,
      header: body.header ?? DEFAULT_HEADER[body.auth],
      description: body.description ?? '',
      createdBy: p.actor,
    };
    if (!(await insertWebhook(pool, row)))
      throw new ApiError(409, 'webhook_exists', `a webhook named ${body.name} exists; remove it first (stackwire webhook delete ${body.name}).`);
    const created = await getWebhook(pool, body.name);
    res.status(201).json({ ...view(req, created!), ...(generated ? { secret } : {}) } satisfies WebhookCreateResponse);
  });

  route(router, 'GET /api/v1/webhooks', http, async (req, res) => {
    res.json({ webhooks: (await listWebhooks(pool)).map((w) => view(req, w)) } satisfies WebhookListResponse);
  });

  route(router, 'POST /api/v1/webhooks/:name/delete', http, async (req, res) => {
    req.audit = { target: `webhook.${req.params.name}`, parameters: {} };
    if (!(await deleteWebhook(pool, req.params.name)))
      throw new ApiError(404, 'webhook_not_found', `no webhook ${JSON.stringify(req.params.name)}; GET /api/v1/webhooks lists them.`);
    res.json({ name: req.params.name, deleted: true });
  });

  route(router, 'POST /api/v1/webhooks/:name', http, async (req, res) => {
    const name = req.params.name;
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const delivery = DELIVERY_HEADERS.map((h) => req.header(h)).find((v) => v !== undefined);
    req.audit = { target: `webhook.${name}`, parameters: { delivery: delivery ?? null } };
    const w = await getWebhook(pool, name);
    if (!w) throw new ApiError(404, 'webhook_not_found', `no webhook named ${JSON.stringify(name)} is declared here; nothing was started.`);
    if (w.auth === 'hmac') {
      const given = req.header(w.header);
      const hex = given?.replace(/^sha256=/i, '') ?? '';
      const sealed: unknown = JSON.parse(w.secret!);
      if (!config.secretKey || !isSealed(sealed))
        throw new ApiError(503, 'no_secret_key', 'the webhook secret cannot be opened: the API lacks its STACKWIRE_SECRET_KEY.');
      const secret = String(unseal(sealed, [config.secretKey, ...config.oldSecretKeys]));
      const expected = crypto.createHmac('sha256', secret).update(raw).digest();
      if (!given || !/^[0-9a-f]{64}$/i.test(hex) || !equalConstantTime(Buffer.from(hex, 'hex'), expected))
        throw new ApiError(
          401,
          'bad_signature',
          `the delivery is ${given ? 'not signed with this webhook’s secret' : `not signed (no ${w.header}: sha256=<hex HMAC-SHA256 of the body>)`}; nothing was started.`,
        );
    } else {
      const bearer = /^Bearer\s+(.+)$/i.exec(req.header('authorization') ?? '')?.[1];
      const token = req.header(w.header) ?? bearer;
      if (!token || !equalConstantTime(sha256(token), Buffer.from(w.tokenSha256!, 'hex')))
        throw new ApiError(
          401,
          'bad_token',
          `the delivery ${token ? 'carries a wrong token' : `carries no token (${w.header} or Authorization: Bearer)`}; nothing was started.`,
        );
    }
    if (delivery !== undefined && !/^[\w.-]{1,100}$/.test(delivery))
      throw new ApiError(400, 'bad_delivery_id', 'the delivery id header must be 1-100 letters, digits, dots, dashes or underscores.');
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      throw new ApiError(400, 'invalid_json', 'the delivery is not JSON: send the event as a JSON body (Content-Type: application/json); nothing was started.');
    }
    const headers = Object.fromEntries(PAYLOAD_HEADERS.flatMap((h) => (req.header(h) !== undefined ? [[h, req.header(h)!]] : [])));
    const d = await dispatcher.receive({
      id: triggerIdFor(name, delivery),
      type: `webhook.${name}`,
      source: `webhook ${name}`,
      deliveryId: delivery ?? null,
      payload: { body, headers },
    });
    res.status(d.duplicate ? 200 : 202).json({
      trigger: d.trigger,
      type: `webhook.${name}`,
      ...(d.duplicate ? { duplicate: true } : {}),
      matched: d.matched,
      runs: d.runs,
    } satisfies WebhookDeliveryResponse);
  });
  return router;
}
