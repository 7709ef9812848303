/**
 * The Elastic Common Schema fields Stackwire's logs use, as named in the ECS reference of the version
 * @elastic/ecs-pino-format 1.5.0 writes in `ecs.version` (8.10: https://www.elastic.co/guide/en/ecs/8.10/ecs-field-reference.html).
 * Everything else a line carries is under the custom namespace `stackwire.` (lib/logger.ts).
 * A new ECS field in the logs is added here after checking its name and meaning in that reference.
 */
export const ECS_VERSION = '8.10.0';

export const ECS_FIELDS: ReadonlySet<string> = new Set([
  // Base
  '@timestamp',
  'message',
  // ECS
  'ecs.version',
  // Log
  'log.level',
  'log.logger',
  // Service
  'service.name',
  'service.node.name',
  // Event
  'event.dataset',
  'event.action',
  'event.duration',
  'event.outcome',
  // Tracing
  'trace.id',
  // Process, Host
  'process.pid',
  'host.hostname',
  // User: the actor
  'user.name',
  // Error
  'error.type',
  'error.message',
  'error.stack_trace',
  // URL, HTTP
  'url.path',
  'url.full',
  'http.request.method',
  'http.response.status_code',
]);

/** `event.outcome` is one of these in ECS. */
export const ECS_OUTCOMES: ReadonlySet<string> = new Set(['success', 'failure', 'unknown']);

/** The keys of a log line as ECS names them: nested objects flattened with dots, except under the custom namespace. */
export function ecsKeys(o: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const name = prefix + k;
    if (name.startsWith('stackwire.') || v === null || typeof v !== 'object' || Array.isArray(v)) return [name];
    return ecsKeys(v as Record<string, unknown>, `${name}.`);
  });
}
