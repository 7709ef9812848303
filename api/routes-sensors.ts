/**
 * The sensor routes of the route table (api/routes.ts spreads them into ROUTES; kept apart so the table
 * stays under the size limit): permission and JSON Schemas, as for every route; checked there against RouteDef.
 */
const str = (extra: Record<string, unknown> = {}) => ({ type: 'string', ...extra });

export const SENSOR_ROUTES = {
  'POST /api/v1/sensors': {
    permission: 'sensors.manage',
    summary:
      'Start a sensor (workflow sensor.<name>): sensu (status changes of Sensu checks → sensu.event), git (a branch that moves → git.push) or script (an action whose JSON stdout lines → sensor.<name>); checked before anything starts; 409 when one of that name runs.',
    body: {
      type: 'object',
      properties: {
        name: str({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
        kind: { enum: ['sensu', 'git', 'script'] },
        interval: str({ maxLength: 20 }),
        region: str({ maxLength: 32 }),
        namespace: str({ maxLength: 64 }),
        url: str({ minLength: 1, maxLength: 2000 }),
        branch: str({ minLength: 1, maxLength: 200 }),
        action: str({ minLength: 1, maxLength: 200 }),
        parameters: { type: 'object' },
      },
      required: ['name', 'kind'],
      additionalProperties: false,
    },
  },
  'GET /api/v1/sensors': {
    permission: 'sensors.read',
    summary:
      'The sensors, running or not: definition, workflow status, last poll (asked of the running workflow) and events emitted (from the trigger instances).',
  },
  'GET /api/v1/sensors/:name': {
    permission: 'sensors.read',
    summary:
      'One sensor, as the list shows it, from its newest run (no visibility lag) and one status query: what to poll when following a sensor (the list asks every running sensor); 404 sensor_not_found.',
  },
  'DELETE /api/v1/sensors/:name': {
    permission: 'sensors.manage',
    summary: 'Stop a sensor: its workflow is cancelled (a script sensor’s process group is killed).',
  },
} as const;
