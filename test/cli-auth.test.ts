/**
 * How the `stackwire` command authenticates: where it finds its key, what it sends, how it reports
 * 401/403/429, and the credentials file's permissions. Against a loopback stub that records what it
 * receives (the real routes are tested in their own files); plus --help/--json on every command.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Command } from 'commander';
import { buildProgram } from '../cli/main.js';
import { cli } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Reply = { status: number; body: unknown; headers?: Record<string, string> };

/** A loopback HTTP server answering every request with `reply`, recording what came in. */
async function stub(reply: (req: Seen) => Reply): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
      res.end(JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-cli-auth-'));
}

function credentialsFile(content: unknown, mode: number): string {
  const file = path.join(tempDir(), 'credentials.json');
  fs.writeFileSync(file, JSON.stringify(content));
  fs.chmodSync(file, mode);
  return file;
}

const WHOAMI = { actor: 'alice', role: 'operator', keyId: 'k-1', scopes: { environments: ['staging'] }, expiresAt: null };

for (const mode of [0o644, 0o640, 0o620, 0o606]) {
  test(`a credentials file with mode ${mode.toString(8)} is refused with exit 2 and the chmod to run; nothing is sent`, async (t) => {
    const api = await stub(() => ({ status: 200, body: WHOAMI }));
    t.teardown(api.close);
    const file = credentialsFile({ apiKey: 'sw_from_file' }, mode);
    const r = await cli(['whoami'], { STACKWIRE_API_KEY: '', STACKWIRE_CREDENTIALS: file, STACKWIRE_API_URL: api.url });
    t.is(r.code, 2, r.stderr);
    t.true(r.stderr.includes(`chmod 600 ${file}`), r.stderr);
    t.regex(r.stderr, /accessible by group or others/);
    t.is(api.seen.length, 0, 'no request with a key from an unsafe file');
  });
}

test('the key and API URL of a 0600 credentials file are used; the key goes as a bearer token, no actor header', async (t) => {
  const api = await stub(() => ({ status: 200, body: WHOAMI }));
  t.teardown(api.close);
  const file = credentialsFile({ apiUrl: api.url, apiKey: 'sw_from_file' }, 0o600);
  const r = await cli(['whoami'], { STACKWIRE_API_KEY: '', STACKWIRE_CREDENTIALS: file, STACKWIRE_API_URL: '' });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /actor:\s+alice\nrole:\s+operator\nkey:\s+k-1\nscopes:\s+environments staging\nexpires: never/);
  t.is(api.seen.length, 1);
  t.is(api.seen[0].url, '/api/v1/whoami');
  t.is(api.seen[0].headers.authorization, 'Bearer sw_from_file');
  t.is(api.seen[0].headers['x-stackwire-trigger'], 'cli');
  t.is(api.seen[0].headers['x-stackwire-actor'], undefined);
  const json = await cli(['whoami', '--json'], { STACKWIRE_API_KEY: '', STACKWIRE_CREDENTIALS: file, STACKWIRE_API_URL: '' });
  t.deepEqual(JSON.parse(json.stdout), WHOAMI);
});

test('STACKWIRE_API_KEY wins over the credentials file, and STACKWIRE_API_URL over its apiUrl', async (t) => {
  const api = await stub(() => ({ status: 200, body: WHOAMI }));
  t.teardown(api.close);
  const file = credentialsFile({ apiUrl: 'http://127.0.0.1:9', apiKey: 'sw_from_file' }, 0o600);
  const r = await cli(['whoami'], { STACKWIRE_API_KEY: 'sw_from_env', STACKWIRE_CREDENTIALS: file, STACKWIRE_API_URL: api.url });
  t.is(r.code, 0, r.stderr);
  t.is(api.seen[0].headers.authorization, 'Bearer sw_from_env');
});

test('with no key anywhere, a 401 says how to get one and exits 2', async (t) => {
  const api = await stub(() => ({ status: 401, body: { error: { code: 'unauthenticated', message: 'an API key is required' } } }));
  t.teardown(api.close);
  const missing = path.join(tempDir(), 'none', 'credentials.json');
  const r = await cli(['action', 'list'], { STACKWIRE_API_KEY: '', STACKWIRE_CREDENTIALS: missing, STACKWIRE_API_URL: api.url });
  t.is(r.code, 2, r.stderr);
  t.is(api.seen[0].headers.authorization, undefined);
  t.true(r.stderr.includes(`no API key: set STACKWIRE_API_KEY or create one with \`stackwire apikey create\` (npm start writes one to ${missing})`), r.stderr);
});

test("a refused key (401), a missing permission (403) and a rate limit (429) print the API's message; exit 1", async (t) => {
  const answers: Record<string, Reply> = {
    '/api/v1/actions': { status: 401, body: { error: { code: 'invalid_key', message: 'this API key was revoked on 2026-11-30' } } },
    '/api/v1/executions/x/cancel': { status: 403, body: { error: { code: 'forbidden', message: 'role viewer lacks permission execution.cancel' } } },
    '/api/v1/whoami': { status: 429, body: { error: { code: 'rate_limited', message: 'too many requests for this key' } }, headers: { 'retry-after': '7' } },
  };
  const api = await stub((s) => answers[s.url] ?? { status: 404, body: { error: { code: 'not_found', message: s.url } } });
  t.teardown(api.close);
  const env = { STACKWIRE_API_KEY: 'sw_some_key', STACKWIRE_API_URL: api.url };
  const refused = await cli(['action', 'list'], env);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /stackwire: this API key was revoked on 2026-11-30/);
  const forbidden = await cli(['execution', 'cancel', 'x'], env);
  t.is(forbidden.code, 1);
  t.regex(forbidden.stderr, /role viewer lacks permission execution\.cancel/);
  const limited = await cli(['whoami'], env);
  t.is(limited.code, 1);
  t.regex(limited.stderr, /too many requests for this key \(retry after 7 seconds\)/);
});

test('apikey create: a bad --expires or --role exits 2 before any request; --save writes the key to a 0600 file in a 0700 folder', async (t) => {
  const created = {
    id: 'k-2',
    name: 'ci-bot',
    role: 'operator',
    scopes: { packs: ['ops'] },
    description: null,
    createdAt: '2026-12-01T00:00:00.000Z',
    createdBy: 'alice',
    expiresAt: '2026-12-01T12:00:00.000Z',
    key: 'sw_new_secret_key',
  };
  const api = await stub(() => ({ status: 201, body: created }));
  t.teardown(api.close);
  const file = path.join(tempDir(), 'cfg', 'stackwire', 'credentials.json');
  const env = { STACKWIRE_API_KEY: 'sw_admin', STACKWIRE_API_URL: api.url, STACKWIRE_CREDENTIALS: file };
  for (const bad of ['90', '1w', '0d', '-5h', 'soon']) {
    const r = await cli(['apikey', 'create', '--name', 'ci-bot', '--role', 'operator', '--expires', bad], env);
    t.is(r.code, 2, bad);
    t.regex(r.stderr, /--expires .* is not a duration/, bad);
  }
  const badRole = await cli(['apikey', 'create', '--name', 'ci-bot', '--role', 'root'], env);
  t.is(badRole.code, 2);
  t.regex(badRole.stderr, /--role "root" is not a role; use one of viewer, operator, deployer, admin/);
  t.is(api.seen.length, 0, 'nothing was sent');

  const r = await cli(['apikey', 'create', '--name', 'ci-bot', '--role', 'operator', '--expires', '12h', '--packs', 'ops', '--save'], env);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(api.seen[0].body), { name: 'ci-bot', role: 'operator', expiresInSeconds: 43200, scopes: { packs: ['ops'] } });
  t.regex(r.stdout, /sw_new_secret_key/);
  t.regex(r.stdout, /shown only this once/);
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  t.is(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  t.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { apiUrl: api.url, apiKey: 'sw_new_secret_key' });
  const never = await cli(['apikey', 'create', '--name', 'ci-bot', '--role', 'viewer', '--expires', 'never', '--json'], env);
  t.is(never.code, 0, never.stderr);
  t.is((JSON.parse(api.seen[1].body) as { expiresInSeconds: unknown }).expiresInSeconds, null);
  t.is((JSON.parse(never.stdout) as { key: string }).key, 'sw_new_secret_key');
});

test('audit verify exits 0 on an intact chain and 1 naming the first broken row', async (t) => {
  let answer: unknown = { ok: true, checked: 42 };
  const api = await stub((s) => ({ status: 200, body: s.url.startsWith('/api/v1/audit/verify') ? answer : { entries: [] } }));
  t.teardown(api.close);
  const env = { STACKWIRE_API_KEY: 'sw_admin', STACKWIRE_API_URL: api.url };
  const ok = await cli(['audit', 'verify'], env);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /audit chain intact: 42 rows/);
  answer = { ok: false, checked: 17, broken: { seq: 17, reason: 'hash does not match the row' } };
  const broken = await cli(['audit', 'verify'], env);
  t.is(broken.code, 1);
  t.regex(broken.stdout, /audit chain broken at row 17: hash does not match the row/);
  const since = await cli(['audit', 'list', '--since', '2026-12-01', '--actor', 'alice', '--limit', '5'], env);
  t.is(since.code, 0, since.stderr);
  t.regex(since.stdout, /no audit entries/);
  t.is(api.seen[2].url, '/api/v1/audit?actor=alice&since=2026-12-01T00%3A00%3A00.000Z&limit=5');
});

/** Every command that does something (a leaf of the command tree), as its argv. */
function leafCommands(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => (c.commands.length ? leafCommands(c, [...prefix, c.name()]) : c.name() === 'help' ? [] : [[...prefix, c.name()]]));
}

test('every command has --help (exit 0, nothing sent) and a --json option', async (t) => {
  const api = await stub(() => ({ status: 500, body: {} }));
  t.teardown(api.close);
  const leaves = leafCommands(buildProgram());
  for (const expected of [['apikey', 'create'], ['apikey', 'list'], ['apikey', 'revoke'], ['whoami'], ['audit', 'list'], ['audit', 'verify']])
    t.true(
      leaves.some((l) => l.join(' ') === expected.join(' ')),
      expected.join(' '),
    );
  for (const args of leaves) {
    const r = await cli([...args, '--help'], { STACKWIRE_API_URL: api.url });
    t.is(r.code, 0, args.join(' '));
    t.regex(r.stdout, new RegExp(`Usage: stackwire ${args.join(' ')}`), args.join(' '));
    t.regex(r.stdout, /--json/, args.join(' '));
  }
  t.is(api.seen.length, 0);
});
