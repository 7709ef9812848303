/**
 * Every route of the API in one table: the permission it needs and the JSON Schemas of its body and
 * query (unknown fields refused). The routers register their handlers through `route()` (api/http.ts),
 * which refuses a route missing here; the OpenAPI document (GET /api/v1/openapi.json) is built from it.
 */
import { METRICS_ROUTES } from './routes-metrics.js';
import { PACK_ROUTES } from './routes-packs.js';
import { SENSOR_ROUTES } from './routes-sensors.js';
import { TRIGGER_ROUTES } from './routes-triggers.js';
import type { Permission } from './security/permissions.js';

export type Schema = Record<string, unknown>;

export interface RouteDef {
  /** `public` routes carry no key: the health check (webhooks will carry their own signature). */
  permission: Permission | 'public';
  summary: string;
  /** A longer explanation (Markdown) for the OpenAPI document: what the answer's figures mean. */
  description?: string;
  body?: Schema;
  query?: Schema;
  /** Largest JSON body (default 1mb). */
  bodyLimit?: string;
  /** A POST that changes nothing (the codec): no audit row, no rate limit. */
  readOnly?: boolean;
  /**
   * Also accepts a browser session cookie (api/security/sessions.ts) in place of the Authorization
   * header: the Web UI's routes and the codec endpoint. Such a request that is not a GET must come
   * from the API's own origin or an allowed Web UI origin (no cross-site request forgery).
   */
  session?: boolean;
  /** The body is not JSON: an HTML form (urlencoded), a stream the handler forwards untouched, or raw bytes (a signed webhook). */
  input?: 'form' | 'stream' | 'raw';
  /** Answers HTML (pages for people), not JSON. */
  html?: boolean;
  /** The audit row's action (default: the permission), for routes whose permission says too little. */
  auditAs?: string;
}

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const int = (minimum: number, maximum: number): Schema => ({ type: 'integer', minimum, maximum });
const uintString: Schema = { type: 'string', pattern: '^[0-9]{1,9}$' };
const secondsString: Schema = { type: 'string', pattern: '^[0-9]{1,6}(\\.[0-9]+)?$' };
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', properties, required, additionalProperties: false });
const names: Schema = { type: 'array', items: str({ minLength: 1, maxLength: 100 }), maxItems: 1000 };
const health = obj({ timeoutSeconds: int(1, 86400), intervalSeconds: int(1, 3600) }, ['timeoutSeconds', 'intervalSeconds']);

/** Pipeline files posted together: at most 100, 1 MB each. */
const PIPELINE_FILES: Schema = {
  type: 'array',
  minItems: 1,
  maxItems: 100,
  items: obj({ path: str({ minLength: 1, maxLength: 4096 }), content: str({ maxLength: 1024 * 1024 }) }, ['path', 'content']),
};

/** The codec endpoint: reads, not changes (no audit row, no rate limit); payloads of up to 2 MB each. */
const CODEC = {
  permission: 'codec.decode',
  readOnly: true,
  session: true,
  bodyLimit: '16mb',
  // The codec checks the payloads itself, naming the first one that is wrong.
  body: { type: 'object' },
  query: { type: 'object' },
} as const;

export const ROUTES = {
  'GET /healthz': { permission: 'public', summary: 'Liveness: 200 when Postgres answers.' },
  'GET /metrics': {
    permission: 'metrics.read',
    summary: 'Prometheus metrics (text format): requests by route and status, runs started, trigger instances. Open to all with STACKWIRE_METRICS_PUBLIC=true.',
  },
  'GET /api/v1/whoami': { permission: 'self.read', summary: 'The caller: actor, role, key id, scopes.' },
  'GET /api/v1/openapi.json': { permission: 'self.read', summary: 'This API as an OpenAPI 3.1 document.' },

  'GET /api/v1/actions': { permission: 'catalog.read', summary: 'The catalog.', query: obj({ pack: str() }) },
  'GET /api/v1/actions/:name': { permission: 'catalog.read', summary: 'One action with its parameters and an example command line.' },

  'POST /api/v1/executions': {
    permission: 'executions.run',
    summary: 'Run an action in a region (or several).',
    body: obj(
      {
        action: str({ minLength: 1, maxLength: 200 }),
        parameters: { type: 'object' },
        region: str(),
        regions: { type: 'array', items: str() },
        dryRun: { type: 'boolean' },
      },
      ['action'],
    ),
  },
  'GET /api/v1/executions': { permission: 'executions.read', summary: 'Recent executions.', query: obj({ action: str(), limit: uintString }) },
  'GET /api/v1/executions/:id': {
    permission: 'executions.read',
    summary: 'One execution (optionally waiting for its end).',
    query: obj({ wait: secondsString }),
  },
  'GET /api/v1/executions/:id/logs': {
    permission: 'executions.read',
    summary: 'Output entries after a sequence number.',
    query: obj({ after: uintString, wait: secondsString }),
  },
  'POST /api/v1/executions/:id/cancel': { permission: 'executions.cancel', summary: 'Cancel a running execution.', body: obj({}) },
  'POST /api/v1/executions/:id/resolve': {
    permission: 'executions.run',
    summary: 'Decide a run whose worker was lost: retry it, or mark it succeeded or failed (409 unless it is lost; the actor is recorded).',
    body: obj({ decision: { enum: ['retry', 'succeeded', 'failed'] }, reason: str({ maxLength: 500 }) }, ['decision']),
  },

  'GET /api/v1/sot/secrets': {
    permission: 'sot.apply',
    summary: 'The names of the secrets the source of truth refers to (secret:<name>), who set each and when; never a value.',
  },
  'PUT /api/v1/sot/secrets/:name': {
    permission: 'sot.apply',
    summary: 'Set a secret the source of truth refers to as secret:<name> (a vCenter password, an SSH key, a container variable); sealed with the stack key.',
    body: obj({ value: str({ minLength: 1, maxLength: 65536 }) }, ['value']),
  },
  'DELETE /api/v1/sot/secrets/:name': { permission: 'sot.apply', summary: 'Delete a secret of the source of truth.' },
  'POST /api/v1/sot/apply': {
    permission: 'sot.apply',
    bodyLimit: '16mb',
    summary: 'Validate and apply the source of truth (what is not in it is removed).',
    body: obj(
      { files: { type: 'array', minItems: 1, items: obj({ path: str({ minLength: 1 }), content: str() }, ['path', 'content']) }, dryRun: { type: 'boolean' } },
      ['files'],
    ),
  },
  'POST /api/v1/pipelines/runs': {
    permission: 'executions.run',
    bodyLimit: '16mb',
    summary:
      'Validate pipeline files (the pipeline and its sub-pipelines) and start a run, pinned to them and to the actions they name; 400 with every problem.',
    body: obj(
      {
        files: PIPELINE_FILES,
        component: str({ minLength: 1, maxLength: 200 }),
        ref: str({ minLength: 1, maxLength: 200 }),
        pack: str({ minLength: 1, maxLength: 100 }),
        pipeline: str({ minLength: 1, maxLength: 200 }),
        inputs: { type: 'object' },
        inputPairs: { type: 'array', items: str({ maxLength: 100_000 }), maxItems: 500 },
        secrets: {
          type: 'object',
          propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
          additionalProperties: str({ maxLength: 65_536 }),
          maxProperties: 100,
        },
        region: str(),
        trigger: str({ pattern: '^[a-z][a-z0-9_.:-]{0,63}$' }),
      },
      [],
    ),
  },
  'GET /api/v1/pipelines/runs': {
    permission: 'executions.read',
    summary: 'Recent pipeline runs (newest first).',
    query: obj({ pipeline: str(), limit: uintString }),
  },
  'GET /api/v1/pipelines/runs/:id': {
    permission: 'executions.read',
    summary: 'A pipeline run: every step with status, outputs and timings; approvals waiting.',
  },
  'POST /api/v1/pipelines/runs/:id/cancel': { permission: 'executions.cancel', summary: 'Cancel a pipeline run.', body: obj({}) },
  'POST /api/v1/pipelines/runs/:id/decide': {
    permission: 'deployments.approve',
    summary: 'Approve or reject a waiting approval step (never one of your own runs; the step may name its approvers).',
    body: obj({ step: str({ minLength: 1 }), approve: { type: 'boolean' }, reason: str({ maxLength: 1000 }) }, ['step', 'approve']),
  },
  'POST /api/v1/pipelines/runs/:id/rerun': {
    permission: 'executions.run',
    summary: 'A new run from a step: that step and the ones depending on it run again; the others that succeeded keep their recorded outputs.',
    body: obj({ from: str({ minLength: 1 }) }, ['from']),
  },
  'POST /api/v1/pipelines/validate': {
    permission: 'catalog.read',
    // It changes nothing: no audit row, no rate limit (like the codec).
    readOnly: true,
    bodyLimit: '16mb',
    summary: 'Check pipeline files against the schema, the catalog and each other; every problem with file, line and column.',
    body: obj(
      {
        files: PIPELINE_FILES,
      },
      ['files'],
    ),
  },
  'GET /api/v1/components': { permission: 'sot.read', summary: 'Components of the source of truth.' },
  'GET /api/v1/components/:name': { permission: 'sot.read', summary: 'One component.' },
  'GET /api/v1/components/:name/deps': {
    permission: 'sot.read',
    summary: 'Dependencies, direct and transitive.',
    query: obj({ reverse: { enum: ['true', 'false', '1', '0'] } }),
  },

  'POST /api/v1/deployments': {
    permission: 'deployments.deploy',
    summary: 'Deploy a component version to an environment in waves (or plan it).',
    body: obj(
      {
        component: str({ minLength: 1 }),
        version: str({ minLength: 1 }),
        environment: str({ minLength: 1 }),
        regions: { type: 'array', items: str(), minItems: 1 },
        canary: str(),
        approvalTimeoutSeconds: int(1, 7 * 86400),
        health,
        plan: { type: 'boolean' },
      },
      ['component', 'version', 'environment'],
    ),
  },
  'GET /api/v1/deployments': {
    permission: 'deployments.read',
    summary: 'Deployment records.',
    query: obj({ component: str(), environment: str(), limit: uintString }),
  },
  'GET /api/v1/deployments/:id': { permission: 'deployments.read', summary: 'One deploy or release: state, result, region records.' },
  'POST /api/v1/deployments/:id/approve': {
    permission: 'deployments.approve',
    summary: 'Approve a waiting gate.',
    body: obj({ reason: str({ maxLength: 2000 }) }),
  },
  'POST /api/v1/deployments/:id/reject': {
    permission: 'deployments.approve',
    summary: 'Reject a waiting gate.',
    body: obj({ reason: str({ maxLength: 2000 }) }),
  },
  'POST /api/v1/releases': {
    permission: 'deployments.deploy',
    summary: 'A release train in dependency order (or its plan).',
    body: obj(
      {
        environment: str({ minLength: 1 }),
        components: { type: 'object', additionalProperties: str({ minLength: 1 }) },
        sinceTag: str({ minLength: 1 }),
        plan: { type: 'boolean' },
        maxParallel: int(1, 100),
        health,
      },
      ['environment'],
    ),
  },

  'POST /api/v1/apikeys': {
    permission: 'apikeys.manage',
    summary: 'Create an API key (shown once).',
    body: obj(
      {
        name: str({ pattern: '^[\\w.@-]{1,100}$' }),
        role: { enum: ['viewer', 'operator', 'deployer', 'admin'] },
        expiresInSeconds: { oneOf: [int(1, 10 * 365 * 86400), { type: 'null' }] },
        scopes: obj({ packs: names, environments: names }),
        description: str({ maxLength: 500 }),
        rateLimitPerMinute: int(1, 100000),
      },
      ['name', 'role'],
    ),
  },
  'GET /api/v1/apikeys': { permission: 'apikeys.manage', summary: 'API keys (never the keys themselves).' },
  'POST /api/v1/apikeys/:id/revoke': { permission: 'apikeys.manage', summary: 'Revoke an API key.', body: obj({}) },

  'POST /api/v1/ui/login-links': {
    permission: 'ui.view',
    auditAs: 'ui.login-link',
    summary: 'A one-time sign-in link (2 minutes) for the Temporal Web UI at /ui, for the calling key (`stackwire ui`).',
    body: obj({ next: str({ pattern: '^/ui(/.*)?$', maxLength: 2000 }) }),
  },
  'GET /api/v1/ui/login': {
    permission: 'public',
    html: true,
    summary: 'Sign in to the Web UI: with ?code= (a sign-in link) sets the session cookie and redirects to /ui; without, a form for an API key.',
    query: obj({ code: str({ maxLength: 1000 }), next: str({ maxLength: 2000 }) }),
  },
  'POST /api/v1/ui/login': {
    permission: 'public',
    html: true,
    input: 'form',
    auditAs: 'ui.login',
    summary: 'Sign in to the Web UI with an API key (the form of GET /api/v1/ui/login); sets the session cookie.',
    body: obj({ key: str({ maxLength: 200 }), next: str({ maxLength: 2000 }) }),
  },
  'POST /api/v1/ui/logout': {
    permission: 'public',
    html: true,
    input: 'form',
    auditAs: 'ui.logout',
    summary: 'Ends the browser session (clears its cookie).',
    body: obj({}),
  },
  'GET /ui{/*path}': {
    permission: 'ui.view',
    session: true,
    html: true,
    summary: 'The Temporal Web UI, served through the API (signed in; payloads decoded through the codec endpoint; read-only below admin).',
    // The UI's own queries (list filters, paging) go through as they are.
    query: { type: 'object' },
  },
  'POST /ui{/*path}': {
    permission: 'ui.write',
    session: true,
    input: 'stream',
    summary: 'Actions in the Temporal Web UI (terminate, signal, reset …): admins only, each one audited.',
  },

  'POST /api/v1/schedules': {
    permission: 'schedules.manage',
    bodyLimit: '16mb',
    summary: 'Create a schedule: a pipeline run on cron expressions or an interval (a Temporal Schedule), validated and pinned now.',
    body: obj(
      {
        name: str({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
        cron: { type: 'array', items: str({ minLength: 9, maxLength: 200 }), minItems: 1, maxItems: 10 },
        every: str({ maxLength: 20 }),
        run: { type: 'object' },
        overlap: { enum: ['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all'] },
        catchupWindow: str({ maxLength: 20 }),
        paused: { type: 'boolean' },
        note: str({ maxLength: 500 }),
      },
      ['name', 'run'],
    ),
  },
  'GET /api/v1/schedules': { permission: 'schedules.read', summary: 'The schedules: spec, paused, recent and next runs.' },
  'POST /api/v1/schedules/:name/pause': { permission: 'schedules.manage', summary: 'Pause a schedule.', body: obj({}) },
  'POST /api/v1/schedules/:name/unpause': { permission: 'schedules.manage', summary: 'Unpause a schedule.', body: obj({}) },
  'POST /api/v1/schedules/:name/trigger': { permission: 'schedules.manage', summary: 'Run a schedule once now.', body: obj({}) },
  'POST /api/v1/schedules/:name/delete': { permission: 'schedules.manage', summary: 'Delete a schedule (runs already started go on).', body: obj({}) },

  'POST /api/v1/webhooks/github': {
    permission: 'public',
    input: 'raw',
    bodyLimit: '25mb',
    auditAs: 'webhooks.github',
    summary:
      'GitHub (Enterprise) webhook deliveries, signed (X-Hub-Signature-256 with STACKWIRE_GITHUB_WEBHOOK_SECRET; 401 otherwise): a push starts the pipelines of the components whose repository it is, at the pushed commit.',
  },

  'POST /api/v1/codec/decode': { ...CODEC, summary: 'Decode payloads for the Temporal Web UI (codec server protocol).' },
  'POST /api/v1/codec/encode': { ...CODEC, summary: 'Encode payloads (codec server protocol).' },
  'POST /api/v1/codec/:namespace/decode': { ...CODEC, summary: 'Decode payloads; the namespace in the path (Temporal CLI).' },
  'POST /api/v1/codec/:namespace/encode': { ...CODEC, summary: 'Encode payloads; the namespace in the path (Temporal CLI).' },

  'GET /api/v1/audit': {
    permission: 'audit.read',
    summary: 'The audit trail, newest first.',
    query: obj({ actor: str(), action: str(), since: str({ minLength: 1 }), limit: uintString }),
  },
  'GET /api/v1/audit/verify': { permission: 'audit.read', summary: 'Check the audit trail’s hash chain.' },

  ...SENSOR_ROUTES,
  ...TRIGGER_ROUTES,
  ...METRICS_ROUTES,
  ...PACK_ROUTES,
} as const satisfies Record<string, RouteDef>;

export type RouteKey = keyof typeof ROUTES;
