/**
 * The API's Prometheus metrics and its access log: every request counted and timed by route template
 * and status (and logged as one ECS line with its trace.id), every workflow the API starts counted by
 * workflow type (a Temporal client interceptor, so no start is missed or counted twice: a duplicate
 * start is refused by Temporal and not counted), every trigger instance by type and what became of it.
 * GET /metrics serves them (api/routes.ts: metrics.read, or no key with STACKWIRE_METRICS_PUBLIC).
 */
import crypto from 'node:crypto';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { logContext, withLogContext, type Logger } from '../lib/logger.js';
import { Counter, DURATION_BUCKETS, Histogram, createRegistry, type Registry } from '../lib/metrics.js';
import { route, type HttpDeps } from './http.js';

/** A W3C traceparent's trace id, when the caller sent one (a proxy or a traced client). */
function traceIdOf(req: Request): string {
  const m = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(req.header('traceparent') ?? '');
  return m && !/^0+$/.test(m[1]) ? m[1] : crypto.randomBytes(16).toString('hex');
}

export class ApiMetrics {
  readonly registry: Registry = createRegistry();
  readonly requests = new Counter({
    name: 'stackwire_api_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'stackwire_api_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly runsStarted = new Counter({
    name: 'stackwire_api_runs_started_total',
    help: 'Workflows the API started (action runs, pipeline runs, deploys, releases, ingests, sensors …), by workflow type.',
    labelNames: ['workflow_type'] as const,
    registers: [this.registry],
  });
  readonly triggers = new Counter({
    name: 'stackwire_api_triggers_total',
    help: 'Trigger instances received, by trigger type and outcome (dispatched, failed, duplicate).',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Counts every workflow start that Temporal accepted. */
  clientInterceptor(): WorkflowClientInterceptor {
    return {
      startWithDetails: async (input, next) => {
        const out = await next(input);
        this.runsStarted.inc({ workflow_type: input.workflowType });
        return out;
      },
      signalWithStart: async (input, next) => {
        const runId = await next(input);
        this.runsStarted.inc({ workflow_type: input.workflowType });
        return runId;
      },
    };
  }

  /**
   * First in the app: binds the request's trace.id for every log line written while serving it, then
   * counts, times and logs the answer. Scrapes and health checks are logged at debug only.
   */
  middleware(logger: Logger) {
    return (req: Request, res: Response, next: NextFunction) => {
      const started = process.hrtime.bigint();
      const traceId = traceIdOf(req);
      withLogContext({ traceId }, () => {
        const context = logContext(); // the caller (user.name) is added to it once authenticated
        res.once('finish', () => {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          // The template (/api/v1/executions/:id), never the path itself: one series per route.
          const template = (req.route as { path?: unknown } | undefined)?.path;
          const labels = { method: req.method, route: typeof template === 'string' ? template : 'unmatched', status: String(res.statusCode) };
          this.requests.inc(labels);
          this.duration.observe(labels, seconds);
          const quiet = req.method === 'GET' && (req.path === '/metrics' || req.path === '/healthz');
          // The path without its query (a sign-in link carries a token there).
          const fields = { ...context, method: req.method, path: req.path, statusCode: res.statusCode, durationMs: seconds * 1000 };
          if (quiet) logger.debug(fields, 'request');
          else logger.info(fields, 'request');
        });
        next();
      });
    };
  }

  /** GET /metrics: with a key (metrics.read) by default, or open when the operator says so. */
  router(http: HttpDeps, open: boolean): Router {
    const router = Router();
    const serve = async (_req: Request, res: Response) => {
      res.setHeader('content-type', this.registry.contentType);
      res.send(await this.registry.metrics());
    };
    if (open) router.get('/metrics', serve);
    else route(router, 'GET /metrics', http, serve);
    return router;
  }
}
