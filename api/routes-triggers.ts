/**
 * The trigger routes of the route table (api/routes.ts spreads them into ROUTES; kept apart so the table
 * stays under the size limit): generic webhooks, rules, trigger instances and traces.
 */
type Schema = Record<string, unknown>;
const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const uintString: Schema = { type: 'string', pattern: '^[0-9]{1,9}$' };
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', properties, required, additionalProperties: false });
/** Rule files posted together: at most 100, 1 MB each. */
const RULE_FILES: Schema = {
  type: 'array',
  minItems: 1,
  maxItems: 100,
  items: obj({ path: str({ minLength: 1, maxLength: 4096 }), content: str({ maxLength: 1024 * 1024 }) }, ['path', 'content']),
};

export const TRIGGER_ROUTES = {
  'POST /api/v1/webhooks': {
    permission: 'webhooks.manage',
    summary: 'Declare a generic webhook (POST /api/v1/webhooks/<name>), proved by an HMAC of its body or by a token; the secret is shown once.',
    body: obj(
      {
        name: str({ pattern: '^[a-z][a-z0-9-]{0,62}$' }),
        auth: { enum: ['hmac', 'token'] },
        secret: str({ minLength: 20, maxLength: 512 }),
        header: str({ pattern: '^[A-Za-z][A-Za-z0-9-]{0,63}$' }),
        description: str({ maxLength: 500 }),
      },
      ['name', 'auth'],
    ),
  },
  'GET /api/v1/webhooks': { permission: 'triggers.read', summary: 'The declared generic webhooks (never their secrets).' },
  'POST /api/v1/webhooks/:name/delete': {
    permission: 'webhooks.manage',
    summary: 'Remove a generic webhook: its deliveries are refused (404) from then on.',
    body: obj({}),
  },
  'POST /api/v1/webhooks/:name': {
    permission: 'public',
    input: 'raw',
    bodyLimit: '1mb',
    auditAs: 'webhooks.deliver',
    summary:
      'A delivery to a declared webhook: proved by its HMAC header or token (401 otherwise, nothing started); the JSON body becomes a webhook.<name> trigger matched against the rules; 202 with what it started.',
  },
  'POST /api/v1/rules/apply': {
    permission: 'rules.manage',
    summary:
      'Apply rule files (YAML): all validated together (every problem with file, line and column, nothing applied otherwise), each changed rule a new version; the rule index of every API process reloads.',
    body: obj({ files: RULE_FILES, dryRun: { type: 'boolean' } }, ['files']),
    bodyLimit: '8mb',
  },
  'GET /api/v1/rules': {
    permission: 'rules.read',
    summary: 'The rules: trigger, target, version, who applied them.',
    query: obj({ trigger: str({ maxLength: 200 }) }),
  },
  'GET /api/v1/rules/:name': { permission: 'rules.read', summary: 'One rule: its definition, the YAML it was applied from, and its versions.' },
  'POST /api/v1/rules/:name/delete': { permission: 'rules.manage', summary: 'Delete a rule (its versions stay on record).', body: obj({}) },
  'GET /api/v1/triggers': {
    permission: 'triggers.read',
    summary: 'Recent trigger instances (webhook deliveries, sensor events): what matched and what started.',
    query: obj({ type: str({ maxLength: 200 }), source: str({ maxLength: 200 }), limit: uintString }),
  },
  'GET /api/v1/triggers/:id': { permission: 'triggers.read', summary: 'One trigger instance.' },
  'GET /api/v1/traces/:id': {
    permission: 'triggers.read',
    summary: 'From a trigger instance or a run id: the event, the rules it matched and the runs it started, with their state in Temporal.',
  },
} as const;
