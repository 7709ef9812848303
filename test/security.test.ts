/**
 * Security through the public surfaces: every route needs a key, roles and scopes are enforced,
 * expired and revoked keys are refused, every mutating call leaves exactly one audit row, the audit
 * chain detects tampering, request contracts refuse unknown fields, idempotency keys cannot be reused
 * for another request, and mutating calls are rate-limited per key.
 */
import { spawnSync } from 'node:child_process';
import test from 'ava';
import type { Router } from 'express';
import pg from 'pg';
import { createApp } from '../api/app.js';
import { createLogger } from '../lib/logger.js';
import { API_ENTRY } from '../lib/paths.js';
import { API, ADMIN_KEY, cli, config, http, makeKey, sleep, uniqueName } from './helpers.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every route the app serves, found by walking Express's router (not from our own table). */
function servedRoutes(): string[] {
  const app = createApp({ client: {} as never, pool: {} as never, config, logger: createLogger('test', 'silent') });
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const l of stack) {
      if (l.route) for (const m of Object.keys(l.route.methods)) out.push(`${m.toUpperCase()} ${l.route.path}`);
      else if (l.handle?.stack) walk(l.handle.stack);
    }
  };
  walk((app as unknown as { router: Router & { stack: Layer[] } }).router.stack);
  return out.sort();
}

const sample = (path: string) => path.replace(/\{\/\*(\w+)\}/g, '/x1').replace(/:(\w+)/g, 'x1');

async function raw(method: string, path: string, init: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: {
      ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  const body = (res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : { text }) as {
    error?: { code: string; message: string };
  } & Record<string, unknown>;
  return { status: res.status, headers: res.headers, body };
}

test('every route of the app is in the OpenAPI document with a permission, and without a key every non-public one is 401', async (t) => {
  const routes = servedRoutes();
  t.true(routes.length >= 30, routes.join('\n'));
  const doc = await http<{ paths: Record<string, Record<string, { 'x-permission'?: string; 'x-express-path': string }>> }>('GET', '/api/v1/openapi.json');
  t.is(doc.status, 200);
  const operations = new Map<string, { 'x-permission'?: string; 'x-express-path': string }>(
    Object.entries(doc.body.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([m, op]) => {
        // The document's path and the one Express serves describe the same route.
        t.is(p, op['x-express-path'].replace(/\{\/\*(\w+)\}/g, '/{$1}').replace(/:(\w+)/g, '{$1}'));
        return [`${m.toUpperCase()} ${op['x-express-path']}`, op] as const;
      }),
    ),
  );
  t.deepEqual(routes, [...operations.keys()].sort(), 'the routes served and the routes documented are the same');
  for (const r of routes) {
    const [method, path] = r.split(' ');
    const permission = operations.get(r)!['x-permission'];
    t.truthy(permission, `${r} declares no permission`);
    const res = await raw(method, sample(path), method === 'POST' ? { body: {} } : {});
    // A public route asks for no key (a failed sign-in answers its form with 401, never the JSON refusal).
    if (permission === 'public') t.not(res.body.error?.code, 'unauthenticated', r);
    else {
      t.is(res.status, 401, r);
      t.is(res.body.error?.code, 'unauthenticated', r);
    }
  }
});

test('a viewer can read but is 403 on run, deploy, approve, ingest and source-of-truth apply', async (t) => {
  const viewer = await makeKey({ name: uniqueName('viewer'), role: 'viewer' });
  t.is((await raw('GET', '/api/v1/actions', { key: viewer.key })).status, 200);
  const attempts: [string, unknown][] = [
    ['/api/v1/executions', { action: 'ops.disk_report', parameters: { path: '/' } }],
    ['/api/v1/deployments', { component: 'hello-api', version: '1.0.0', environment: 'production' }],
    ['/api/v1/deployments/deploy.hello-api.production/approve', {}],
    ['/api/v1/packs/anything/ingest', { source: { kind: 'git', url: 'https://example.invalid/x.git' } }],
    ['/api/v1/sot/apply', { files: [{ path: 'a.yaml', content: 'environments: []' }] }],
    ['/api/v1/apikeys', { name: 'x', role: 'admin' }],
  ];
  for (const [path, body] of attempts) {
    const r = await raw('POST', path, { key: viewer.key, body });
    t.is(r.status, 403, path);
    t.regex(r.body.error?.message ?? '', /needs the (operator|admin) role; the key \w+ of viewer-\w+ has viewer/, path);
  }
});

test('a key scoped to one pack cannot run an action of another', async (t) => {
  const scoped = await makeKey({ name: uniqueName('scoped'), role: 'operator', scopes: { packs: ['testkit'] } });
  const ok = await raw('POST', '/api/v1/executions', {
    key: scoped.key,
    body: { action: 'testkit.echo_args', parameters: { message: 'in scope' }, dryRun: true },
  });
  t.is(ok.status, 200, JSON.stringify(ok.body));
  const other = await raw('POST', '/api/v1/executions', { key: scoped.key, body: { action: 'ops.disk_report', parameters: { path: '/' } } });
  t.is(other.status, 403);
  t.regex(other.body.error?.message ?? '', /scoped to pack\(s\) testkit; executions\.run on pack ops is not allowed/);
});

test('an expired or revoked key is 401, with the reason', async (t) => {
  const short = await makeKey({ name: uniqueName('short'), role: 'viewer', expiresInSeconds: 1 });
  await sleep(1500);
  const expired = await raw('GET', '/api/v1/whoami', { key: short.key });
  t.is(expired.status, 401);
  t.regex(expired.body.error?.message ?? '', /expired on/);

  const k = await makeKey({ name: uniqueName('revoked'), role: 'viewer' });
  t.is((await raw('GET', '/api/v1/whoami', { key: k.key })).status, 200, 'works before');
  const rev = await cli(['apikey', 'revoke', k.id, '--json']);
  t.is(rev.code, 0, rev.stderr);
  const after = await raw('GET', '/api/v1/whoami', { key: k.key });
  t.is(after.status, 401);
  t.regex(after.body.error?.message ?? '', /was revoked/);
  // A forged key with a real id but another secret is refused too.
  const forged = `swk_${k.id}_${'A'.repeat(43)}`;
  t.is((await raw('GET', '/api/v1/whoami', { key: forged })).status, 401);
  t.is((await raw('GET', '/api/v1/whoami', { headers: { authorization: 'Basic abc' } })).status, 401);
});

test('the CLI creates, lists and revokes keys; a key is shown once and never listed', async (t) => {
  const name = uniqueName('cli-key');
  const created = await cli(['apikey', 'create', '--name', name, '--role', 'operator', '--expires', '30d', '--packs', 'testkit', '--json']);
  t.is(created.code, 0, created.stderr);
  const k = JSON.parse(created.stdout) as { id: string; key: string; role: string; scopes: { packs: string[] } };
  t.regex(k.key, /^swk_[0-9a-f]{16}_/);
  t.deepEqual(k.scopes.packs, ['testkit']);
  const who = await cli(['whoami', '--json'], { STACKWIRE_API_KEY: k.key });
  t.is(who.code, 0, who.stderr);
  t.like(JSON.parse(who.stdout), { actor: name, role: 'operator', keyId: k.id });
  const list = await cli(['apikey', 'list', '--json']);
  t.is(list.code, 0, list.stderr);
  t.false(list.stdout.includes(k.key), 'the key is never listed');
  t.true(list.stdout.includes(k.id));
});

test('every mutating call leaves exactly one audit row with actor, role, action, target, result and request id; secrets are masked', async (t) => {
  const actor = uniqueName('audited');
  const k = await makeKey({ name: actor, role: 'operator' });
  const calls = [
    await raw('POST', '/api/v1/executions', {
      key: k.key,
      body: { action: 'testkit.echo_args', parameters: { message: 'audit me', token: 'tok-3141592' }, dryRun: true },
    }),
    await raw('POST', '/api/v1/executions', { key: k.key, body: { action: 'testkit.echo_args', parameters: { message: 'bad', nope: 1 } } }),
    await raw('POST', '/api/v1/sot/apply', { key: k.key, body: { files: [{ path: 'a.yaml', content: 'x' }] } }),
    await raw('POST', '/api/v1/executions/no-such-run/cancel', { key: k.key, body: {} }),
  ];
  t.deepEqual(
    calls.map((c) => c.status),
    [200, 400, 403, 404],
  );
  const rows = await http<{
    entries: {
      actor: string;
      role: string;
      keyId: string;
      action: string;
      target: string;
      result: string;
      status: number;
      requestId: string;
      source: string;
      parameters: unknown;
    }[];
  }>('GET', `/api/v1/audit?actor=${actor}&limit=100`);
  t.is(rows.status, 200);
  t.is(rows.body.entries.length, calls.length, JSON.stringify(rows.body.entries));
  const byRequest = new Map(rows.body.entries.map((e) => [e.requestId, e]));
  for (const c of calls) t.truthy(byRequest.get(c.headers.get('x-request-id') ?? ''), 'one row per request id');
  const [run, invalid, denied, missing] = calls.map((c) => byRequest.get(c.headers.get('x-request-id') ?? '')!);
  t.like(run, { actor, role: 'operator', keyId: k.id, action: 'executions.run', target: 'testkit.echo_args', result: 'ok', status: 200 });
  t.regex(run.source, /127\.0\.0\.1/);
  t.false(JSON.stringify(rows.body.entries).includes('tok-3141592'), 'the secret parameter is masked');
  t.like(invalid, { result: 'rejected', status: 400 });
  t.like(denied, { action: 'sot.apply', result: 'denied', status: 403 });
  t.like(missing, { action: 'executions.cancel', result: 'rejected', status: 404 });
  // Reads are not audited.
  await raw('GET', '/api/v1/actions', { key: k.key });
  const again = await http<{ entries: unknown[] }>('GET', `/api/v1/audit?actor=${actor}&limit=100`);
  t.is(again.body.entries.length, calls.length);
});

test('the audit trail is append-only, and a changed row makes `audit verify` fail naming it', async (t) => {
  const actor = uniqueName('tamper');
  const k = await makeKey({ name: actor, role: 'viewer' });
  await raw('POST', '/api/v1/executions', { key: k.key, body: { action: 'ops.disk_report', parameters: { path: '/' } } }); // denied, audited
  const row = (await http<{ entries: { seq: number; result: string }[] }>('GET', `/api/v1/audit?actor=${actor}`)).body.entries[0];
  t.is(row.result, 'denied');
  const ok = await cli(['audit', 'verify', '--json']);
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  const db = new pg.Client({ connectionString: config.database.url });
  await db.connect();
  try {
    const upd = await t.throwsAsync(db.query("UPDATE audit_log SET result = 'ok' WHERE seq = $1", [row.seq]));
    t.regex(upd?.message ?? '', /append-only/);
    // Someone with the database's superuser switches the guard off and rewrites history.
    await db.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    try {
      await db.query("UPDATE audit_log SET result = 'ok' WHERE seq = $1", [row.seq]);
    } finally {
      await db.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    }
    const broken = await cli(['audit', 'verify']);
    t.is(broken.code, 1);
    t.regex(broken.stdout + broken.stderr, new RegExp(`\\b${row.seq}\\b`));
    const j = await http<{ ok: boolean; broken: { seq: number; reason: string } }>('GET', '/api/v1/audit/verify');
    t.false(j.body.ok);
    t.is(j.body.broken.seq, row.seq);
    t.regex(j.body.broken.reason, /content does not match its hash/);
  } finally {
    // Put it back so the chain is whole for the rest of the suite.
    await db.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    await db.query("UPDATE audit_log SET result = 'denied' WHERE seq = $1", [row.seq]);
    await db.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    await db.end();
  }
  t.true((await http<{ ok: boolean }>('GET', '/api/v1/audit/verify')).body.ok);
});

test('request contracts: unknown fields are refused by name, before anything runs', async (t) => {
  const r = await http<{ error: { code: string; message: string } }>('POST', '/api/v1/deployments', {
    component: 'hello-api',
    version: '9.9.9',
    environment: 'production',
    approvalTimeout: 60,
  });
  t.is(r.status, 400);
  t.is(r.body.error.code, 'invalid_request');
  t.regex(r.body.error.message, /body: unknown field "approvalTimeout"; allowed: component, version, environment, regions, canary, approvalTimeoutSeconds/);
  const q = await http<{ error: { message: string } }>('GET', '/api/v1/executions?limt=5');
  t.is(q.status, 400);
  t.regex(q.body.error.message, /query: unknown field "limt"/);
});

test('an Idempotency-Key reused with other parameters is a 422; with the same ones it is the same run', async (t) => {
  const key = uniqueName('idem');
  const body = { action: 'testkit.echo_args', parameters: { message: 'once' }, region: 'us-east' };
  const first = await http<{ id: string }>('POST', '/api/v1/executions', body, { 'idempotency-key': key });
  t.is(first.status, 202);
  const same = await http<{ id: string; deduplicated: boolean }>('POST', '/api/v1/executions', body, { 'idempotency-key': key });
  t.is(same.status, 200);
  t.is(same.body.id, first.body.id);
  const other = await http<{ error: { code: string } }>(
    'POST',
    '/api/v1/executions',
    { ...body, parameters: { message: 'twice' } },
    { 'idempotency-key': key },
  );
  t.is(other.status, 422);
  t.is(other.body.error.code, 'idempotency_key_reused');
});

test('mutating calls are rate-limited per key: 429 with Retry-After', async (t) => {
  const k = await makeKey({ name: uniqueName('busy'), role: 'operator', rateLimitPerMinute: 3 });
  const body = { action: 'testkit.echo_args', parameters: { message: 'x' }, dryRun: true };
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 5; i++) {
    const r = await raw('POST', '/api/v1/executions', { key: k.key, body });
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers.get('retry-after');
  }
  t.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
  t.is(statuses[4], 429);
  t.regex(retryAfter ?? '', /^\d+$/);
  // Reads are not limited, and other keys are not affected.
  t.is((await raw('GET', '/api/v1/actions', { key: k.key })).status, 200);
  t.is((await raw('POST', '/api/v1/executions', { key: ADMIN_KEY, body })).status, 200);
});

test('the first admin key of an installation is made on the API host with --create-admin-key, shown once', async (t) => {
  const owner = uniqueName('root');
  const r = spawnSync(process.execPath, [API_ENTRY, '--create-admin-key', owner, '--json'], { encoding: 'utf8', env: process.env, timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const k = JSON.parse(r.stdout) as { id: string; key: string; role: string };
  t.is(k.role, 'admin');
  const who = await raw('GET', '/api/v1/whoami', { key: k.key });
  t.like(who.body, { actor: owner, role: 'admin', keyId: k.id });
  const bad = spawnSync(process.execPath, [API_ENTRY, '--create-admin-key', 'two words'], { encoding: 'utf8', env: process.env, timeout: 60_000 });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /an owner is 1-100 letters/);
});
