/**
 * GET /api/v1/metrics/delivery: deploy frequency, lead time, change failure rate and time to restore
 * of one environment over a window (db/delivery-metrics.ts computes them; api/routes-metrics.ts and the
 * README define them). Read with deployments.read, within the key's environment scope.
 */
import { Router } from 'express';
import type { DeliveryGrouping, DeliveryMetricsQuery, DeliveryMetricsResponse } from '../common/api-types.js';
import { WHEN_FORMS, parseWhen } from '../common/when.js';
import { deliveryMetrics, isStatementTimeout } from '../db/delivery-metrics.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { checkEnvironment } from './security/permissions.js';

const DAY_MS = 86_400_000;
/** The longest window: a year, leap day included. */
export const MAX_WINDOW_DAYS = 366;
/** How long the statement may take (a year of 100 deploys a day takes about a second on 2 cores). */
const TIMEOUT_MS = 60_000;

function when(name: 'since' | 'until', text: string | undefined, fallback: Date, now: number): Date {
  if (text === undefined) return fallback;
  const t = parseWhen(text, now);
  if (!t) throw new ApiError(400, 'invalid_request', `${name} ${JSON.stringify(text)} is not a point in time: give ${WHEN_FORMS}.`);
  return t;
}

export function metricsRouter({ pool, http }: RouterDeps): Router {
  const router = Router();
  route(router, 'GET /api/v1/metrics/delivery', http, async (req, res) => {
    const q = req.query as DeliveryMetricsQuery;
    const now = Date.now();
    const until = when('until', q.until, new Date(now), now);
    const since = when('since', q.since, new Date(until.getTime() - 30 * DAY_MS), now);
    if (since >= until)
      throw new ApiError(
        400,
        'invalid_request',
        `the window is empty: since (${since.toISOString()}) must be before until (${until.toISOString()}); move since back or until forward.`,
      );
    if (until.getTime() - since.getTime() > MAX_WINDOW_DAYS * DAY_MS)
      throw new ApiError(
        400,
        'invalid_request',
        `the window from ${since.toISOString()} to ${until.toISOString()} is longer than ${MAX_WINDOW_DAYS} days; ask for several shorter windows.`,
      );
    const environment = q.environment ?? 'production';
    checkEnvironment(principal(req), environment, false, 'deployments.read');
    const components = q.component === undefined ? null : [...new Set(q.component.split(','))];
    const by: DeliveryGrouping = q.by ?? 'developer';
    const out = await deliveryMetrics(pool, { since, until, environment, components, by, listDeploys: q.deploys === 'true' }, { timeoutMs: TIMEOUT_MS }).catch(
      (err: unknown) => {
        if (!isStatementTimeout(err)) throw err;
        throw new ApiError(
          503,
          'metrics_timeout',
          `the delivery metrics of ${environment} from ${since.toISOString()} to ${until.toISOString()} took longer than ${TIMEOUT_MS / 1000} s; ask for a shorter window or fewer components.`,
        );
      },
    );
    res.json(out satisfies DeliveryMetricsResponse);
  });
  return router;
}
