/**
 * Structured logs for ELK: one JSON object per line in the Elastic Common Schema (ECS), written by
 * pino with @elastic/ecs-pino-format (`@timestamp`, `log.level`, `message`, `ecs.version`,
 * `service.name`, `process.pid`, `host.hostname`, `error.*`).
 *
 * Call sites log plain fields (`{ executionId, actor, err }`); `ecsFields()` renames them here, in one
 * place: a field ECS has goes to its ECS name (actor → `user.name`, event → `event.action`,
 * durationMs → `event.duration` in nanoseconds, workflowRunId → `stackwire.run_id` …), a name that
 * already has a dot (`'url.full'`) is taken as an ECS name, and everything else goes under the custom
 * namespace `stackwire.*` in snake_case (executionId → `stackwire.execution_id`).
 *
 * Secrets are never passed in (scripts' argv and parameters are masked by the callers); as a second
 * line, a field whose name looks secret (password, token, secret, api key …) is written as ********.
 *
 * Fields that belong to the work in hand rather than to one call (the API request's `trace.id` and
 * `user.name`, the activity's workflow and run ids) are bound with `withLogContext()` and added to
 * every line logged inside it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import os from 'node:os';
import { ecsFormat } from '@elastic/ecs-pino-format';
import { pino } from 'pino';

export type Logger = pino.Logger;

/** The custom namespace of our own fields in ECS documents. */
export const LOG_NAMESPACE = 'stackwire';

/** Plain field names with an ECS home. */
const ECS_NAMES: Record<string, string> = {
  actor: 'user.name',
  by: 'user.name',
  event: 'event.action',
  outcome: 'event.outcome',
  method: 'http.request.method',
  statusCode: 'http.response.status_code',
  path: 'url.path',
  traceId: 'trace.id',
  logger: 'log.logger',
};

/** Our own fields spelt differently by the Temporal SDK, named once. */
const CUSTOM_NAMES: Record<string, string> = { workflowRunId: 'run_id', runId: 'run_id' };

const SECRET_KEY = /pass(word|wd|phrase)|secret|token|api_?key|credential|^key$|private_?key/i;
const MASK = '********';

const snake = (k: string) =>
  k
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .toLowerCase();

/** Masks secret-looking fields at any depth (bounded), as the audit trail does. */
function masked(v: unknown, depth = 0): unknown {
  if (depth > 4 || v === null || typeof v !== 'object' || v instanceof Error) return v;
  if (Array.isArray(v)) return v.map((x) => masked(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEY.test(k) ? MASK : masked(x, depth + 1)]));
}

/** A call site's fields in ECS: see the comment at the top. `err` is left for ecs-pino-format (error.*). */
export function ecsFields(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(o)) {
    if (raw === undefined) continue;
    if (k === 'err') {
      out.err = raw instanceof Error ? raw : undefined;
      if (!(raw instanceof Error)) out['error.message'] = typeof raw === 'string' ? raw : JSON.stringify(raw);
      continue;
    }
    const v = SECRET_KEY.test(k) ? MASK : masked(raw);
    if (k.includes('.')) out[k] = v;
    else if (k === 'durationMs' && typeof v === 'number') out['event.duration'] = Math.round(v * 1e6);
    else if (k === 'event' && typeof v !== 'string') out[`${LOG_NAMESPACE}.event`] = v;
    else if (ECS_NAMES[k]) out[ECS_NAMES[k]] = v;
    else out[`${LOG_NAMESPACE}.${CUSTOM_NAMES[k] ?? snake(k)}`] = v;
  }
  return out;
}

const context = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `fn` with fields added to every line logged inside it (also after awaits). The fields are in
 * the call sites' spelling; the object may be added to later (`logContext()`), e.g. once the caller
 * of a request is known.
 */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return context.run({ ...(context.getStore() ?? {}), ...fields }, fn);
}

/** The fields bound by the innermost withLogContext(), to read or add to; undefined outside one. */
export function logContext(): Record<string, unknown> | undefined {
  return context.getStore();
}

export interface LoggerOptions {
  /** A file to append to instead of standard output (npm start's supervisor). */
  destination?: string;
  /** With destination: each line also goes to this function (npm start shows the API's lines condensed). */
  echo?: (line: string) => void;
}

/**
 * A logger for one process. `service` becomes `service.name` (stackwire-api, stackwire-worker,
 * stackwire-orchestrator, stackwire-start); `bindings` are fields on every line, in the call sites'
 * spelling (e.g. `{ region: 'us-east' }`).
 */
export function createLogger(service: string, level: string, bindings: Record<string, unknown> = {}, opts: LoggerOptions = {}): Logger {
  const ecs = ecsFormat({ serviceName: service, apmIntegration: false, convertErr: true });
  const f = ecs.formatters as Required<NonNullable<pino.LoggerOptions['formatters']>>;
  const options: pino.LoggerOptions = {
    ...ecs,
    level,
    base: { pid: process.pid, hostname: os.hostname(), ...bindings },
    formatters: {
      level: f.level,
      // The root's bindings: pid and hostname (→ process.pid, host.hostname), ecs-pino-format's static
      // fields, and ours renamed. (A child's are renamed by child() below.)
      bindings: (b) => {
        const { pid, hostname, ...rest } = b as { pid: unknown; hostname: unknown };
        return f.bindings({ pid, hostname, ...ecsFields(rest) });
      },
      log: (o) => {
        const store = context.getStore();
        return f.log(ecsFields(store ? { ...store, ...o } : o));
      },
    },
  };
  const file = opts.destination ? pino.destination({ dest: opts.destination, append: true, mkdir: true, sync: true }) : undefined;
  const echo = opts.echo;
  const logger = file
    ? pino(
        options,
        echo
          ? pino.multistream([
              { level: 'trace', stream: file },
              { level: 'trace', stream: { write: (line: string) => echo(line.replace(/\n$/, '')) } },
            ])
          : file,
      )
    : pino(options);
  // pino formats a child's bindings without formatters.bindings: rename them on the way in (children inherit this).
  type ChildFn = (this: unknown, b: pino.Bindings, o?: pino.ChildLoggerOptions) => unknown;
  const child = (Object.getPrototypeOf(logger) as { child: ChildFn }).child; // pino's own, from the prototype
  const renamed = function (this: unknown, b: pino.Bindings, o?: pino.ChildLoggerOptions) {
    return child.call(this, ecsFields(b), o);
  };
  logger.child = renamed as unknown as Logger['child'];
  return logger;
}
