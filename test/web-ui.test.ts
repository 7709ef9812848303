/**
 * The Temporal Web UI through the API (README: Web UI): signing in with a one-time link or a key,
 * the session cookie, the UI proxied at /ui with its settings pointing at our codec, the codec
 * answering the UI's own request shape with the cookie, and the refusals (no session, a foreign
 * origin, a viewer acting, a revoked key). Against the real API and the test dev server's Web UI.
 */
import test from 'ava';
import { API, ADMIN_KEY, as, http, makeKey, runViaApi, uniqueName } from './helpers.js';

interface Payload {
  metadata: Record<string, string>;
  data: string;
}

async function get(path: string, init: { cookie?: string; accept?: string } = {}) {
  return fetch(`${API}${path}`, {
    redirect: 'manual',
    headers: { ...(init.cookie ? { cookie: init.cookie } : {}), accept: init.accept ?? '*/*' },
  });
}

/** Signs in with a one-time link for the key; answers the cookie to send back. */
async function signIn(key: string): Promise<{ cookie: string; setCookie: string; url: string }> {
  const link = await http<{ url: string; expiresAt: string; webUi: boolean }>('POST', '/api/v1/ui/login-links', {}, as(key));
  if (link.status !== 201) throw new Error(`login link: ${link.status} ${JSON.stringify(link.body)}`);
  const res = await fetch(link.body.url, { redirect: 'manual' });
  const setCookie = res.headers.get('set-cookie') ?? '';
  if (res.status !== 303) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
  return { cookie: setCookie.split(';')[0], setCookie, url: link.body.url };
}

test('a one-time link signs a browser in: an HttpOnly SameSite=Strict cookie, the link works once, and the cookie opens the UI, not the API', async (t) => {
  const op = await makeKey({ name: uniqueName('ui-op'), role: 'operator' });
  const link = await http<{ url: string; expiresAt: string; webUi: boolean }>(
    'POST',
    '/api/v1/ui/login-links',
    { next: '/ui/namespaces/default/workflows' },
    as(op.key),
  );
  t.is(link.status, 201, JSON.stringify(link.body));
  t.true(link.body.webUi);
  t.true(link.body.url.startsWith(`${API}/api/v1/ui/login?code=`));
  t.true(Date.parse(link.body.expiresAt) - Date.now() <= 120_000);

  const first = await fetch(link.body.url, { redirect: 'manual' });
  t.is(first.status, 303);
  t.is(first.headers.get('location'), '/ui/namespaces/default/workflows');
  const setCookie = first.headers.get('set-cookie') ?? '';
  t.regex(setCookie, /^stackwire_session=[\w-]+\.[\w-]+;/);
  t.regex(setCookie, /HttpOnly/);
  t.regex(setCookie, /SameSite=Strict/);
  t.regex(setCookie, /Path=\//);
  const cookie = setCookie.split(';')[0];

  const again = await fetch(link.body.url, { redirect: 'manual' });
  t.is(again.status, 401, 'a sign-in link works once');
  t.regex(await again.text(), /already used/);

  // The cookie opens the UI (proxied from the dev server's Web UI) …
  const ui = await get('/ui/', { cookie, accept: 'text/html' });
  t.is(ui.status, 200);
  t.regex(await ui.text(), /\/ui\/_app\//);
  // … whose settings send its codec calls to this API, with credentials, and hide write actions below admin.
  const settings = await get('/ui/api/v1/settings', { cookie });
  t.is(settings.status, 200);
  const s = (await settings.json()) as { Codec: { Endpoint: string; IncludeCredentials: boolean; PassAccessToken: boolean }; DisableWriteActions: boolean };
  t.is(s.Codec.Endpoint, `${API}/api/v1/codec`);
  t.true(s.Codec.IncludeCredentials);
  t.true(s.DisableWriteActions, 'an operator reads; only admins act in the UI');
  // … but is no API key: the API proper still wants the Authorization header.
  t.is((await get('/api/v1/whoami', { cookie })).status, 401);
});

test('the codec decodes what the UI fetches, with the session cookie and the UI request shape; never without a session or from a foreign page', async (t) => {
  const op = await makeKey({ name: uniqueName('ui-codec'), role: 'operator' });
  const { cookie } = await signIn(op.key);
  const marker = `ui-marker-${Date.now().toString(36)}`;
  const { id, execution } = await runViaApi({ action: 'testkit.echo_args', parameters: { message: marker } });
  t.is(execution.status, 'succeeded');

  // The history as the UI fetches it (through the proxy): ciphertext only.
  const hist = await get(`/ui/api/v1/namespaces/default/workflows/${encodeURIComponent(id)}/history?maximumPageSize=100`, { cookie });
  t.is(hist.status, 200);
  const text = await hist.text();
  t.false(text.includes(marker), 'the history holds no parameter in clear');
  const payloads: Payload[] = [];
  JSON.parse(text, (k, v: unknown) => {
    if (v && typeof v === 'object' && 'metadata' in v && 'data' in v) payloads.push(v as Payload);
    return v;
  });
  t.true(payloads.length > 0);

  // The UI's call: POST <codec>/decode, JSON, X-Namespace, from its own origin, credentials by cookie.
  const decode = (headers: Record<string, string>) =>
    fetch(`${API}/api/v1/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
      body: JSON.stringify({ payloads }),
    });
  const ok = await decode({ cookie, origin: API });
  t.is(ok.status, 200);
  const decoded = (await ok.json()) as { payloads: Payload[] };
  const clear = decoded.payloads.map((p) => Buffer.from(p.data, 'base64').toString('utf8')).join('\n');
  t.true(clear.includes(marker), 'decoded, the run shows its parameter');
  t.true(decoded.payloads.every((p) => Buffer.from(p.metadata.encoding, 'base64').toString() !== 'binary/encrypted'));

  t.is((await decode({ origin: API })).status, 401, 'no session, no decoding');
  const foreign = await decode({ cookie, origin: 'http://127.0.0.1:9' });
  t.is(foreign.status, 403, 'a page of another origin cannot use the session');
  const noOrigin = await decode({ cookie });
  t.is(noOrigin.status, 403, 'a session-authenticated change must say where it comes from');
  t.is(((await noOrigin.json()) as { error: { code: string } }).error.code, 'cross_origin');
});

test('without a session the UI sends a person to sign in; a key pasted in the form signs in, a wrong one is refused', async (t) => {
  const r = await get('/ui/namespaces/default/workflows', { accept: 'text/html' });
  t.is(r.status, 303);
  t.is(r.headers.get('location'), `/api/v1/ui/login?next=${encodeURIComponent('/ui/namespaces/default/workflows')}`);
  t.is((await get('/ui/api/v1/settings', { accept: 'application/json' })).status, 401, 'a script gets 401, not a page');

  const form = await get('/api/v1/ui/login?next=/ui/');
  t.is(form.status, 200);
  t.regex(await form.text(), /<form method="post" action="\/api\/v1\/ui\/login">/);

  const post = (key: string) =>
    fetch(`${API}/api/v1/ui/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key, next: '//evil.example/' }).toString(),
    });
  const bad = await post('swk_0000000000000000_notakey');
  t.is(bad.status, 401);
  t.regex(await bad.text(), /not a Stackwire API key/);
  const viewerName = uniqueName('ui-form');
  const viewer = await makeKey({ name: viewerName, role: 'viewer' });
  const good = await post(viewer.key);
  t.is(good.status, 303);
  t.is(good.headers.get('location'), '/ui/', 'no redirect off the site');
  t.regex(good.headers.get('set-cookie') ?? '', /^stackwire_session=/);

  // The sign-in is in the audit trail, with the key's owner; the key itself is not.
  const audit = await http<{ entries: { actor: string | null; action: string; target: string; result: string }[] }>(
    'GET',
    '/api/v1/audit?action=ui.login&limit=100',
  );
  t.is(audit.status, 200);
  const row = audit.body.entries.find((e) => e.target === `key ${viewer.id}`);
  t.truthy(row, 'a sign-in leaves an audit row');
  t.is(row?.actor, viewerName);
  t.true(
    audit.body.entries.some((e) => e.result === 'unauthenticated'),
    'so does a refused one',
  );
  t.false(JSON.stringify(audit.body).includes(viewer.key), 'never the key');
});

test('below admin the UI is read-only; an admin acts through it, audited; a revoked key ends its sessions', async (t) => {
  const viewer = await makeKey({ name: uniqueName('ui-viewer'), role: 'viewer' });
  const v = await signIn(viewer.key);
  const act = (cookie: string) =>
    fetch(`${API}/ui/api/v1/namespaces/default/workflows/no-such-workflow/terminate`, {
      method: 'POST',
      headers: { cookie, origin: API, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'test' }),
    });
  const refused = await act(v.cookie);
  t.is(refused.status, 403);
  t.regex(((await refused.json()) as { error: { message: string } }).error.message, /ui\.write needs the admin role/);

  const admin = await signIn(ADMIN_KEY);
  const settings = (await (await get('/ui/api/v1/settings', { cookie: admin.cookie })).json()) as { DisableWriteActions: boolean };
  t.false(settings.DisableWriteActions);
  const acted = await act(admin.cookie);
  t.not(acted.status, 403, 'an admin reaches the UI server (which says the workflow does not exist)');
  t.not(acted.status, 401);
  const audit = await http<{ entries: { action: string; target: string }[] }>('GET', '/api/v1/audit?action=ui.write&limit=20');
  t.true(
    audit.body.entries.some((e) => e.target.includes('/no-such-workflow/terminate')),
    'the action is audited',
  );

  const revoked = await http('POST', `/api/v1/apikeys/${viewer.id}/revoke`, {});
  t.is(revoked.status, 200);
  const after = await get('/ui/api/v1/settings', { cookie: v.cookie });
  t.is(after.status, 401, 'revoking the key ends its browser sessions');
  t.regex(((await after.json()) as { error: { message: string } }).error.message, /revoked/);
});
