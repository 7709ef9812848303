/**
 * The Temporal Web UI, served through the API at /ui so operators read runs decoded and signed in:
 *
 *   POST /api/v1/ui/login-links   a one-time sign-in link for the calling key (`stackwire ui`)
 *   GET  /api/v1/ui/login         ?code= → session cookie, redirect to /ui; else a form for a key
 *   POST /api/v1/ui/login         the form: an API key → session cookie
 *   POST /api/v1/ui/logout        clears the cookie
 *   GET|POST /ui/…                the Web UI (STACKWIRE_WEB_UI_URL, public path /ui), proxied
 *
 * Served from the API's own origin, the UI's calls to the codec endpoint carry the session cookie
 * (fetch sends cookies to its own origin), so payloads are decoded without any setting in the UI.
 * The UI's settings are rewritten on the way: its codec endpoint is this API's, and write actions
 * are hidden from anyone below admin (whose POSTs the proxy refuses anyway, and audits when allowed).
 */
import http from 'node:http';
import https from 'node:https';
import express, { type Request, type Response } from 'express';
import type { LoginLinkResponse } from '../common/api-types.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { ownOrigin, principal, route } from './http.js';
import { LOGIN_CODE_SECONDS, SESSION_COOKIE, type SessionSigner } from './security/sessions.js';

const UI_PREFIX = '/ui';
/** Request headers never forwarded to the UI server: our credentials, and hop-by-hop ones. */
const DROP_REQUEST = new Set(['cookie', 'authorization', 'host', 'connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'upgrade']);
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'trailer', 'upgrade']);

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Only our own UI pages are places to go after signing in (no open redirect). */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/ui(\/[^\s\\]*)?$/.test(next) && !next.startsWith('//') ? next : `${UI_PREFIX}/`;
}

function page(res: Response, status: number, title: string, body: string): void {
  res
    .status(status)
    .set({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      'x-frame-options': 'DENY',
    })
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — Stackwire</title>` +
        '<style>body{font:15px system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}input{width:100%;padding:.5rem;font:inherit;margin:.5rem 0}' +
        'button{padding:.5rem 1rem;font:inherit}.err{color:#a00}code{background:#eee;padding:0 .2rem}</style></head>' +
        `<body><h1>${esc(title)}</h1>${body}</body></html>`,
    );
}

function loginForm(res: Response, status: number, next: string, problem?: string): void {
  page(
    res,
    status,
    'Sign in to the Web UI',
    `${problem ? `<p class="err">${esc(problem)}</p>` : ''}` +
      '<p>Run <code>stackwire ui</code> for a one-time sign-in link, or paste an API key (it is not stored in the browser; a session cookie is).</p>' +
      `<form method="post" action="/api/v1/ui/login"><input type="hidden" name="next" value="${esc(next)}">` +
      '<input type="password" name="key" placeholder="swk_…" autocomplete="off" required autofocus><button type="submit">Sign in</button></form>',
  );
}

function setSession(res: Response, req: Request, sessions: SessionSigner, keyId: string, seconds: number, keyExpiresAt: Date | null): void {
  const left = keyExpiresAt ? Math.floor((keyExpiresAt.getTime() - Date.now()) / 1000) : seconds;
  const ttl = Math.max(1, Math.min(seconds, left));
  const { token } = sessions.issue('session', keyId, ttl);
  res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', maxAge: ttl * 1000 });
}

export function webUiRouter(deps: RouterDeps): express.Router {
  const { config, logger } = deps;
  const router = express.Router();
  const signer = deps.http.sessions;
  const need = (): SessionSigner => {
    if (!signer)
      throw new ApiError(503, 'no_sessions', 'the API has no STACKWIRE_SECRET_KEY to sign browser sessions with; set it (npm start does) and restart the API.');
    return signer;
  };

  route(router, 'POST /api/v1/ui/login-links', deps.http, (req, res) => {
    const p = principal(req);
    const { token, expiresAt } = need().issue('login', p.keyId, LOGIN_CODE_SECONDS);
    const next = safeNext((req.body as { next?: string }).next);
    req.audit = { target: `key ${p.keyId}`, parameters: { next } };
    const url = `${ownOrigin(req)}/api/v1/ui/login?code=${encodeURIComponent(token)}${next !== `${UI_PREFIX}/` ? `&next=${encodeURIComponent(next)}` : ''}`;
    res.status(201).json({ url, expiresAt: expiresAt.toISOString(), webUi: config.api.webUiUrl !== undefined } satisfies LoginLinkResponse);
  });

  route(router, 'GET /api/v1/ui/login', deps.http, async (req, res) => {
    const { code, next } = req.query as { code?: string; next?: string };
    const to = safeNext(next);
    if (code === undefined) return loginForm(res, 200, to);
    try {
      const keyId = need().verify(code, 'login');
      const p = await deps.http.authenticator.authenticateKeyId(keyId);
      setSession(res, req, need(), p.keyId, config.api.webSessionSeconds, p.expiresAt);
      logger.info({ actor: p.actor, keyId: p.keyId }, 'web ui sign-in (link)');
      res.redirect(303, to);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return loginForm(res, 401, to, err.message);
      throw err;
    }
  });

  route(router, 'POST /api/v1/ui/login', deps.http, async (req, res) => {
    const { key, next } = (req.body ?? {}) as { key?: string; next?: string };
    const to = safeNext(next);
    try {
      const p = await deps.http.authenticator.authenticateKey((key ?? '').trim());
      req.principal = p; // the audit row names who signed in
      req.audit = { target: `key ${p.keyId}`, parameters: { next: to } };
      setSession(res, req, need(), p.keyId, config.api.webSessionSeconds, p.expiresAt);
      logger.info({ actor: p.actor, keyId: p.keyId }, 'web ui sign-in (key)');
      res.redirect(303, to);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return loginForm(res, 401, to, err.message);
      throw err;
    }
  });

  route(router, 'POST /api/v1/ui/logout', deps.http, (req, res) => {
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
    res.redirect(303, '/api/v1/ui/login');
  });

  const upstream = config.api.webUiUrl ? new URL(config.api.webUiUrl) : undefined;
  const proxy = (req: Request, res: Response) => {
    if (!upstream) {
      throw new ApiError(
        404,
        'no_web_ui',
        'this API serves no Temporal Web UI: set STACKWIRE_WEB_UI_URL to a Temporal Web UI started with public path /ui (npm start does this for its dev server).',
      );
    }
    const p = principal(req);
    if (req.method === 'POST') req.audit = { target: req.originalUrl.slice(0, 300), parameters: {} };
    const settings = req.method === 'GET' && req.path === `${UI_PREFIX}/api/v1/settings`;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP_REQUEST.has(k) && v !== undefined) headers[k] = v;
    headers.host = upstream.host;
    if (settings) delete headers['accept-encoding']; // rewritten below: plain JSON, please
    const lib = upstream.protocol === 'https:' ? https : http;
    const out = lib.request(
      { protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.originalUrl, headers, timeout: 60_000 },
      (up) => {
        const status = up.statusCode ?? 502;
        const h: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (!DROP_RESPONSE.has(k) && v !== undefined) h[k] = v;
        if (!settings || status !== 200) {
          res.writeHead(status, h);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            res.writeHead(status, h).end(Buffer.concat(chunks));
            return;
          }
          const codec = (body.Codec ?? {}) as Record<string, unknown>;
          body.Codec = { ...codec, Endpoint: `${ownOrigin(req)}/api/v1/codec`, PassAccessToken: false, IncludeCredentials: true };
          if (p.role !== 'admin') body.DisableWriteActions = true;
          delete h['content-length'];
          res.writeHead(status, { ...h, 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
        });
      },
    );
    out.on('timeout', () => out.destroy(new Error('the Web UI did not answer within 60 s')));
    out.on('error', (err) => {
      logger.warn({ err, path: req.path }, 'web ui proxy: upstream failed');
      if (!res.headersSent) {
        res.status(502).json({
          error: { code: 'web_ui_unreachable', message: `the Temporal Web UI at ${upstream.origin} did not answer (${err.message}); is it running?` },
        });
      } else res.destroy();
    });
    req.pipe(out);
  };
  route(router, 'GET /ui{/*path}', deps.http, proxy);
  route(router, 'POST /ui{/*path}', deps.http, proxy);
  return router;
}
