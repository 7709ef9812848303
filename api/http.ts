/**
 * How a route is served: `route(router, 'POST /api/v1/executions', handler)` looks the route up in the
 * table (api/routes.ts) and puts in front of the handler, in order: the audit record (mutating
 * methods), authentication, the per-key rate limit (mutating methods), the permission check and the
 * JSON Schema validation of body and query. A route missing from the table stops the API at start.
 */
import crypto from 'node:crypto';
import { json, raw, urlencoded, type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { appendAudit } from '../db/audit.js';
import type { Pool } from '../db/pool.js';
import { logContext, type Logger } from '../lib/logger.js';
import { ApiError } from './errors.js';
import { ROUTES, type RouteDef, type RouteKey } from './routes.js';
import { compileRequestValidator } from './schemas.js';
import type { Authenticator } from './security/authenticate.js';
import { checkPermission, type Principal } from './security/permissions.js';
import type { RateLimiter } from './security/rate-limit.js';
import type { SessionSigner } from './security/sessions.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by authentication; every non-public handler can rely on it. */
    principal?: Principal;
    requestId?: string;
    /** What the audit row says was acted on, and with which parameters (secrets masked); set by handlers. */
    audit?: { target?: string; parameters?: Record<string, unknown> };
  }
}

export interface HttpDeps {
  pool: Pool;
  logger: Logger;
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  /** Mutating requests a minute per key, unless the key says otherwise. */
  rateLimitPerMinute: number;
  /** Browser sessions (the Web UI); absent when the API has no secret key to sign them with. */
  sessions?: SessionSigner;
  /** Origins besides the API's own whose pages may send session-authenticated changes (STACKWIRE_CODEC_CORS_ORIGINS). */
  browserOrigins: ReadonlySet<string>;
}

/** The API's own origin as the browser sees it. */
export function ownOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? ''}`;
}

/** A session-authenticated request that is not a read must come from a page of ours (no CSRF). */
function checkSameOrigin(req: Request, deps: HttpDeps): void {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  const origin = req.header('origin');
  if (origin === undefined || (origin !== ownOrigin(req) && !deps.browserOrigins.has(origin))) {
    throw new ApiError(
      403,
      'cross_origin',
      `a browser session may change things only from a page of this API or an allowed Web UI origin (STACKWIRE_CODEC_CORS_ORIGINS); this request came from ${origin ?? 'no origin'}.`,
    );
  }
}

type Handler = (req: Request<Record<string, string>>, res: Response) => Promise<void> | void;

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SECRET_FIELD = /pass(word|wd)?|secret|token|api_?key|credential|^key$|content/i;

/** Body fields that are secret-looking (or bulky file content) are masked in the audit trail. */
export function maskForAudit(v: unknown, depth = 0): unknown {
  if (depth > 6) return '…';
  if (Array.isArray(v))
    return v.length > 50 ? [...v.slice(0, 50).map((x) => maskForAudit(x, depth + 1)), `… ${v.length - 50} more`] : v.map((x) => maskForAudit(x, depth + 1));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_FIELD.test(k) ? '********' : maskForAudit(x, depth + 1)]));
  }
  return typeof v === 'string' && v.length > 500 ? `${v.slice(0, 500)}…` : v;
}

function resultOf(status: number): string {
  if (status < 400) return 'ok';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'denied';
  if (status === 429) return 'rate_limited';
  return status < 500 ? 'rejected' : 'failed';
}

/** One audit row per mutating request, written before the answer leaves (so a caller never sees an unaudited change). */
function auditMiddleware(deps: HttpDeps, action: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const end = res.end.bind(res) as (...a: unknown[]) => Response;
    let done = false;
    (res as { end: (...a: unknown[]) => Response }).end = (...args: unknown[]) => {
      if (done) return end(...args);
      done = true;
      const p = req.principal;
      appendAudit(deps.pool, {
        actor: p?.actor ?? null,
        role: p?.role ?? null,
        keyId: p?.keyId ?? null,
        action,
        target: req.audit?.target ?? req.path,
        parameters: req.audit?.parameters ?? ((maskForAudit(req.body ?? {}) as Record<string, unknown>) || {}),
        result: resultOf(res.statusCode),
        status: res.statusCode,
        requestId: req.requestId ?? '',
        source: req.ip ?? null,
      }).then(
        () => end(...args),
        (err: unknown) => {
          // No audit row, no answer that claims success: the change may have happened, so say so.
          deps.logger.error({ err, path: req.path }, 'audit row could not be written');
          if (!res.headersSent) {
            res.status(500).setHeader('content-type', 'application/json');
            end(
              JSON.stringify({
                error: {
                  code: 'audit_failed',
                  message: 'the request was handled but its audit row could not be written; tell an admin (the API log has the details).',
                },
              }),
            );
          } else end(...args);
        },
      );
      return res;
    };
    next();
  };
}

export function route(router: Router, key: RouteKey, deps: HttpDeps, handler: Handler): void {
  const def: RouteDef = ROUTES[key];
  const [method, path] = key.split(' ') as [string, string];
  const validate = compileRequestValidator(key, def);
  const mutating = MUTATING.has(method) && def.readOnly !== true;
  const limit = def.bodyLimit ?? '1mb';
  const parseBody: RequestHandler | undefined =
    def.input === 'stream'
      ? undefined
      : def.input === 'form'
        ? urlencoded({ extended: false, limit, parameterLimit: 20 })
        : def.input === 'raw'
          ? raw({ type: () => true, limit })
          : json({ limit });
  const chain: RequestHandler[] = [
    (req, res, next) => {
      req.requestId = crypto.randomUUID();
      res.setHeader('x-request-id', req.requestId);
      // The audit row's request id on the request's log lines too (stackwire.request_id).
      const context = logContext();
      if (context) context.requestId = req.requestId;
      next();
    },
  ];
  if (mutating) chain.push(auditMiddleware(deps, def.auditAs ?? def.permission));
  if (def.permission !== 'public') {
    const permission = def.permission;
    const sessions = def.session ? deps.sessions : undefined;
    chain.push(async (req, _res, next) => {
      const p = await deps.authenticator.authenticate(req, sessions);
      req.principal = p;
      const context = logContext();
      if (context) context.actor = p.actor; // user.name on the request's log lines
      if (p.via === 'session') checkSameOrigin(req, deps);
      if (mutating) {
        const r = deps.rateLimiter.take(p.keyId, p.rateLimit ?? deps.rateLimitPerMinute);
        if (!r.ok) {
          throw new ApiError(429, 'rate_limited', `too many requests with key ${p.keyId}; try again in ${r.retryAfterSeconds} s.`, {
            retryAfterSeconds: r.retryAfterSeconds,
          });
        }
      }
      checkPermission(p, permission);
      next();
    });
  }
  // Bodies are read only once the caller is known (an anonymous caller cannot make us parse 64 MB).
  if (parseBody)
    chain.push(parseBody, (req, _res, next) => {
      validate(req);
      next();
    });
  const m = method.toLowerCase() as 'get' | 'post';
  router[m](path, ...chain, async (req: Request, res: Response) => {
    await handler(req as Request<Record<string, string>>, res);
  });
}

/** The caller, for handlers of authenticated routes. */
export function principal(req: Request): Principal {
  if (!req.principal) throw new Error(`no principal on ${req.method} ${req.path}: the route is not authenticated`);
  return req.principal;
}
