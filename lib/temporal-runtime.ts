/**
 * Routes the Temporal SDK's own logs — the TypeScript side's and, forwarded, the Rust Core's — into
 * our ECS JSON logger (`log.logger`: temporal.worker, temporal.core, temporal.workflow …), and
 * optionally has Core export its metrics in the Prometheus format on a loopback address, which the
 * worker's /metrics merges into its own (lib/metrics.ts). Call once per process, before any Worker.
 */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger.js';

const LEVELS: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR' };

export interface RuntimeTelemetry {
  /** host:port where Core serves its Prometheus metrics (GET /metrics); undefined: no Core metrics. */
  prometheusBindAddress?: string;
}

export function installRuntime(logger: Logger, level: string, telemetry: RuntimeTelemetry = {}): void {
  const sdkLevel = LEVELS[level] ?? 'INFO';
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, (entry) => {
      const { sdkComponent, ...rest } = (entry.meta ?? {}) as Record<string, unknown>;
      const meta = { ...rest, logger: `temporal.${typeof sdkComponent === 'string' ? sdkComponent : 'sdk'}` };
      switch (entry.level) {
        case 'TRACE':
          logger.trace(meta, entry.message);
          break;
        case 'DEBUG':
          logger.debug(meta, entry.message);
          break;
        case 'INFO':
          logger.info(meta, entry.message);
          break;
        case 'WARN':
          logger.warn(meta, entry.message);
          break;
        default:
          logger.error(meta, entry.message);
      }
    }),
    telemetryOptions: {
      // Core's own messages (connection trouble, task failures) come through the logger above, as JSON.
      logging: { forward: {}, filter: { core: sdkLevel === 'TRACE' || sdkLevel === 'DEBUG' ? sdkLevel : 'WARN', other: 'ERROR' } },
      ...(telemetry.prometheusBindAddress
        ? {
            metrics: {
              prometheus: { bindAddress: telemetry.prometheusBindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
            },
          }
        : {}),
    },
  });
}
