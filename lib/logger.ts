/** Structured JSON logs (one object per line, ready for ELK). Secrets are never passed in. */
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(name: string, level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ name, level, base: { service: name, pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
