/** The Express trigger API: thin by design. It authenticates, validates, starts or cancels workflows, and reads Postgres. */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { ServiceError } from '@temporalio/client';
import { ping } from '../db/pool.js';
import { actionsRouter } from './actions.js';
import { apiKeysRouter } from './apikeys.js';
import { auditRouter } from './audit.js';
import { codecRouter } from './codec.js';
import { componentsRouter } from './components.js';
import type { ApiDeps, RouterDeps } from './deps.js';
import { deploymentsRouter } from './deployments.js';
import { releasesRouter } from './releases.js';
import { ApiError } from './errors.js';
import { ApiMetrics } from './metrics.js';
import { executionsRouter } from './executions.js';
import { route } from './http.js';
import { openApiDocument } from './openapi.js';
import { packsRouter } from './packs.js';
import { packStateRouter } from './pack-state.js';
import { sotSecretsRouter } from './sot-secrets.js';
import { ingestsRouter } from './ingests.js';
import { pipelineValidateRouter } from './pipeline-validate.js';
import { Authenticator } from './security/authenticate.js';
import { RateLimiter } from './security/rate-limit.js';
import { SessionSigner } from './security/sessions.js';
import { webUiRouter } from './web-ui.js';
import { pipelinesRouter } from './pipelines.js';
import { webhooksRouter } from './webhooks.js';
import { schedulesRouter } from './schedules.js';
import { genericWebhooksRouter } from './generic-webhooks.js';
import { triggersRouter } from './triggers.js';
import { rulesRouter } from './rules.js';
import { TriggerDispatcher } from './trigger-dispatch.js';
import { pushBuiltins } from './webhooks.js';
import { sensorsRouter } from './sensors.js';
import { metricsRouter } from './delivery-metrics.js';
import type { WhoamiResponse } from '../common/api-types.js';

export type { ApiDeps } from './deps.js';

function metaRouter(deps: RouterDeps): Router {
  const router = Router();
  route(router, 'GET /healthz', deps.http, async (_req, res) => {
    await ping(deps.pool);
    res.json({ status: 'ok', regions: deps.config.regions, namespace: deps.config.temporal.namespace });
  });
  route(router, 'GET /api/v1/whoami', deps.http, (req, res) => {
    const p = req.principal!;
    res.json({ actor: p.actor, role: p.role, keyId: p.keyId, scopes: p.scopes, expiresAt: p.expiresAt?.toISOString() ?? null } satisfies WhoamiResponse);
  });
  const doc = openApiDocument('1');
  route(router, 'GET /api/v1/openapi.json', deps.http, (_req, res) => {
    res.json(doc);
  });
  return router;
}

/** gRPC status codes (grpc.status) of the Temporal client's ServiceError causes. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/** The app; its trigger dispatcher (`app.locals.dispatcher`) is started by the server (api/server.ts). */

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const metrics = deps.metrics ?? new ApiMetrics();
  app.use(metrics.middleware(deps.logger));
  const dispatcher = new TriggerDispatcher({ ...deps, metrics }, pushBuiltins(deps));
  const ctx: RouterDeps = {
    ...deps,
    metrics,
    dispatcher,
    http: {
      pool: deps.pool,
      logger: deps.logger,
      authenticator: new Authenticator(deps.pool),
      rateLimiter: new RateLimiter(),
      rateLimitPerMinute: deps.config.api.rateLimitPerMinute,
      ...(deps.config.secretKey ? { sessions: new SessionSigner(deps.config.secretKey) } : {}),
      browserOrigins: new Set(deps.config.api.codecCorsOrigins),
    },
  };
  // Every router registers its routes with their full paths through route() (api/http.ts), which
  // authenticates, audits, rate-limits, checks the route's permission and validates its input.
  for (const r of [
    codecRouter,
    metaRouter,
    actionsRouter,
    executionsRouter,
    packsRouter,
    packStateRouter,
    sotSecretsRouter,
    ingestsRouter,
    componentsRouter,
    pipelineValidateRouter,
    deploymentsRouter,
    releasesRouter,
    apiKeysRouter,
    auditRouter,
    webUiRouter,
    pipelinesRouter,
    webhooksRouter,
    genericWebhooksRouter,
    schedulesRouter,
    triggersRouter,
    rulesRouter,
    sensorsRouter,
    metricsRouter,
  ])
    app.use(r(ctx));
  app.use(metrics.router(ctx.http, deps.config.api.metricsPublic));

  app.use((req: Request) => {
    throw new ApiError(404, 'not_found', `no route ${req.method} ${req.path}; the API lives under /api/v1 (GET /api/v1/openapi.json lists it).`);
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ApiError) {
      if (err.status === 429) res.setHeader('retry-after', String((err.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 60));
      // A person opening the Web UI without a session is sent to sign in, not shown JSON.
      if (err.status === 401 && req.method === 'GET' && /^\/ui(\/|$)/.test(req.path) && req.accepts(['json', 'html']) === 'html') {
        res.redirect(303, `/api/v1/ui/login?next=${encodeURIComponent(req.originalUrl)}`);
        return;
      }
      if (err.status === 401) res.setHeader('www-authenticate', 'Bearer realm="stackwire"');
      res.status(err.status).json({ error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid_json', message: `the request body is not valid JSON: ${e.message ?? ''}` } });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'too_large', message: `the request body is too large: ${e.message ?? ''}` } });
      return;
    }
    // Temporal out of reach, or a query no worker answered (its region's workers down): not our fault
    // nor the caller's; said as such, with when to try again.
    const grpcCode = err instanceof ServiceError ? (err.cause as { code?: number } | undefined)?.code : undefined;
    if (grpcCode === GRPC_DEADLINE_EXCEEDED || grpcCode === GRPC_UNAVAILABLE) {
      deps.logger.warn({ err, method: req.method, path: req.path }, 'Temporal did not answer');
      res.setHeader('retry-after', '10');
      res.status(503).json({
        error: {
          code: grpcCode === GRPC_UNAVAILABLE ? 'temporal_unavailable' : 'temporal_timeout',
          message:
            grpcCode === GRPC_UNAVAILABLE
              ? 'Temporal cannot be reached; try again shortly.'
              : "Temporal did not answer in time. A run's live state is asked of a worker of its region: check that the region's workers are running, then try again.",
        },
      });
      return;
    }
    deps.logger.error({ err, method: req.method, path: req.path }, 'request failed'); // with the request's trace.id
    res.status(500).json({ error: { code: 'internal', message: 'internal error; the API log has the details.' } });
  });
  app.locals.dispatcher = dispatcher;
  return app;
}
