/** The Express trigger API: thin by design. It validates, starts or cancels workflows, and reads Postgres. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { actionsRouter } from './actions.js';
import { codecRouter } from './codec.js';
import { ApiError } from './errors.js';
import { executionsRouter, type ApiDeps } from './executions.js';
import { packsRouter } from './packs.js';
import { componentsRouter } from './components.js';
import { deploymentsRouter } from './deployments.js';

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Blob uploads parse their own (larger) bodies; everything else is small JSON.
  app.use((req, res, next) =>
    req.path === '/api/v1/blobs' || req.path === '/api/v1/sot/apply' || req.path.startsWith('/api/v1/codec/')
      ? next()
      : express.json({ limit: '1mb' })(req, res, next),
  );

  app.get('/healthz', async (_req, res) => {
    await deps.pool.query('SELECT 1');
    res.json({ status: 'ok', regions: deps.config.regions, namespace: deps.config.temporal.namespace });
  });
  app.use('/api/v1/codec', codecRouter(deps));
  app.use('/api/v1/actions', actionsRouter(deps));
  app.use('/api/v1/executions', executionsRouter(deps));
  app.use('/api/v1', packsRouter(deps));
  app.use('/api/v1', componentsRouter(deps));
  app.use('/api/v1', deploymentsRouter(deps));

  app.use((req: Request) => {
    throw new ApiError(404, 'not_found', `no route ${req.method} ${req.path}; the API lives under /api/v1 (see README).`);
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ApiError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid_json', message: `the request body is not valid JSON: ${e.message ?? ''}` } });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'too_large', message: 'the request body is over 1 MB.' } });
      return;
    }
    deps.logger.error({ err, method: req.method, path: req.path }, 'request failed');
    res.status(500).json({ error: { code: 'internal', message: 'internal error; the API log has the details.' } });
  });
  return app;
}
