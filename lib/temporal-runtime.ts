/** Routes the Temporal SDK's own logs into our JSON logger. Call once per process, before any Worker. */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger.js';

const LEVELS: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR' };

export function installRuntime(logger: Logger, level: string): void {
  Runtime.install({
    logger: new DefaultLogger(LEVELS[level] ?? 'INFO', (entry) => {
      const meta = { ...(entry.meta ?? {}), sdk: true };
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
  });
}
