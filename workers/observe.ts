/**
 * What a worker tells its operator besides doing the work: Prometheus metrics of its activities (in
 * flight, durations and failures by activity type) and, on every log line an activity writes, the
 * workflow id, run id, activity type and attempt it belongs to. One activity interceptor does both;
 * workers/worker.ts serves the registry (with the Temporal SDK's own metrics) on /metrics.
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, TimeoutFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { withLogContext } from '../lib/logger.js';
import { Counter, DURATION_BUCKETS, Gauge, Histogram, type Registry } from '../lib/metrics.js';

/** What a failed activity is counted as: its ApplicationFailure type (ActionScriptFailed, ActionTimedOut …), else the kind of error. */
export function failureType(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.type ?? 'ApplicationFailure';
  if (err instanceof CancelledFailure) return 'Cancelled';
  if (err instanceof TimeoutFailure) return 'Timeout';
  return err instanceof Error ? err.name : 'Unknown';
}

export function outcomeOf(err: unknown): 'failed' | 'cancelled' {
  return err instanceof CancelledFailure ? 'cancelled' : 'failed';
}

export class WorkerMetrics {
  readonly inFlight: Gauge<'activity_type' | 'region'>;
  readonly duration: Histogram<'activity_type' | 'outcome' | 'region'>;
  readonly failures: Counter<'activity_type' | 'failure_type' | 'region'>;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.inFlight = new Gauge({
      name: 'stackwire_worker_activities_in_flight',
      help: 'Activities running on this worker now, by activity type (runAction: action runs, i.e. scripts running).',
      labelNames: ['activity_type', 'region'],
      registers,
    });
    this.duration = new Histogram({
      name: 'stackwire_worker_activity_duration_seconds',
      help: 'Time an activity attempt took on this worker (a pipeline step, a script run, a deploy step), by activity type and outcome.',
      labelNames: ['activity_type', 'outcome', 'region'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.failures = new Counter({
      name: 'stackwire_worker_activity_failures_total',
      help: 'Activity attempts that failed or were cancelled on this worker, by activity type and failure type (ActionScriptFailed, ActionTimedOut, ActionUsageError, Cancelled …).',
      labelNames: ['activity_type', 'failure_type', 'region'],
      registers,
    });
  }

  /** The activity interceptor of a region's Worker: metrics (labelled with the region) and log context around every attempt. */
  interceptor(region?: string): ActivityInterceptorsFactory {
    const where = region !== undefined ? { region } : {};
    return (ctx: Context) => ({
      inbound: {
        execute: (input, next) => {
          const { info } = ctx;
          const type = info.activityType;
          const fields = {
            workflowId: info.workflowExecution?.workflowId,
            runId: info.workflowExecution?.runId,
            activityType: type,
            activityId: info.activityId,
            attempt: info.attempt,
            ...(info.isLocal ? { local: true } : {}),
          };
          return withLogContext(fields, async () => {
            this.inFlight.inc({ activity_type: type, ...where });
            const end = this.duration.startTimer({ activity_type: type, ...where });
            try {
              const out: unknown = await next(input);
              end({ outcome: 'succeeded' });
              return out;
            } catch (err) {
              end({ outcome: outcomeOf(err) });
              this.failures.inc({ activity_type: type, failure_type: failureType(err), ...where });
              throw err;
            } finally {
              this.inFlight.dec({ activity_type: type, ...where });
            }
          });
        },
      },
    });
  }
}
