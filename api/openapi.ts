/** The API as an OpenAPI 3.1 document, built from the route table (so it cannot drift from what is served). */
import { ROUTES, type RouteDef } from './routes.js';
import { PERMISSIONS } from './security/permissions.js';

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, def] of Object.entries(ROUTES) as [string, RouteDef][]) {
    const [method, path] = key.split(' ');
    // Express's optional wildcard (`/ui{/*path}`) is OpenAPI's `/ui/{path}` (a path of any depth).
    const oaPath = path.replace(/\{\/\*(\w+)\}/g, '/{$1}').replace(/:(\w+)/g, '{$1}');
    const pathParams = [...oaPath.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const q = def.query as { properties?: Record<string, unknown> } | undefined;
    const queryParams = Object.entries(q?.properties ?? {}).map(([name, schema]) => {
      const { description, ...rest } = schema as { description?: string };
      return { name, in: 'query', required: false, ...(description ? { description } : {}), schema: rest };
    });
    paths[oaPath] ??= {};
    paths[oaPath][method.toLowerCase()] = {
      operationId: key,
      summary: def.summary,
      'x-express-path': path,
      'x-permission': def.permission,
      ...(def.permission === 'public'
        ? { security: [], ...(def.description ? { description: def.description } : {}) }
        : { description: `${def.description ? `${def.description}\n\n` : ''}Needs ${def.permission} (role ${PERMISSIONS[def.permission].role} or above).` }),
      parameters: [...pathParams, ...queryParams],
      ...(def.body
        ? {
            requestBody: {
              required: true,
              content: { [def.input === 'form' ? 'application/x-www-form-urlencoded' : 'application/json']: { schema: def.body } },
            },
          }
        : {}),
      responses: {
        '200': { description: 'OK', ...(def.html ? { content: { 'text/html': {} } } : {}) },
        ...(method === 'POST' ? { '201': { description: 'Created' }, '202': { description: 'Accepted' } } : {}),
        '400': { $ref: '#/components/responses/Error' },
        ...(def.permission === 'public'
          ? {}
          : {
              '401': { $ref: '#/components/responses/Error' },
              '403': { $ref: '#/components/responses/Error' },
              '429': { $ref: '#/components/responses/Error' },
            }),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Stackwire API', version, description: 'Every route except /healthz needs `Authorization: Bearer <API key>`.' },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'swk_<id>_<secret>' } },
      responses: {
        Error: {
          description: 'An error: a stable code and a message saying what was wrong and what to do.',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} }, required: ['code', 'message'] },
                },
              },
            },
          },
        },
      },
    },
  };
}
