/**
 * STUB of the Sensu Go backend API — a Sensu Go backend cannot be built or installed on these machines
 * (its Go module is not served and Debian has no package). It follows the documented core/v2 API for
 * what Stackwire uses: PUT/DELETE/GET /api/core/v2/namespaces/{ns}/silenced[/{name}] and
 * POST /api/core/v2/namespaces/{ns}/events, with `Authorization: Key <api key>`; and it records every
 * request at GET /_stub/requests so tests can see what a deploy told Sensu.
 *   node dist/test/sensu-stub.js --key KEY   → prints {"url": …} when listening on 127.0.0.1
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { key: { type: 'string' }, port: { type: 'string', default: '0' } } });
const apiKey = values.key ?? process.env.STACKWIRE_TEST_SENSU_KEY ?? 'stub-key';
const silenced = new Map<string, unknown>();
const requests: { method: string; path: string; body: unknown; at: string }[] = [];

const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://stub');
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (url.pathname === '/_stub/requests') return send(200, requests);
    if (req.headers.authorization !== `Key ${apiKey}`) return send(401, { message: 'unauthorized' });
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(400, { message: 'invalid JSON' });
    }
    requests.push({ method: req.method ?? '', path: url.pathname, body, at: new Date().toISOString() });
    const m = /^\/api\/core\/v2\/namespaces\/([^/]+)\/(silenced|events)(?:\/(.+))?$/.exec(url.pathname);
    if (!m) return send(404, { message: 'not found' });
    const [, , kind, name] = m;
    if (kind === 'silenced') {
      const key = name ? decodeURIComponent(name) : undefined;
      if (req.method === 'GET' && !key) return send(200, [...silenced.values()]);
      if (req.method === 'PUT' && key) {
        const b = body as { subscription?: string; check?: string; metadata?: { name?: string } };
        if (b?.metadata?.name !== key || `${b.subscription}:${b.check}` !== key) return send(400, { message: 'silenced name must be subscription:check' });
        silenced.set(key, body);
        return send(201);
      }
      if (req.method === 'DELETE' && key) return silenced.delete(key) ? send(204) : send(404, { message: 'not found' });
    }
    if (kind === 'events' && req.method === 'POST') {
      const b = body as { entity?: { metadata?: { name?: string } }; check?: { metadata?: { name?: string }; status?: number } };
      if (!b?.entity?.metadata?.name || !b.check?.metadata?.name || typeof b.check.status !== 'number')
        return send(400, { message: 'an event needs entity and check' });
      return send(201);
    }
    return send(405, { message: 'method not allowed' });
  });
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ event: 'sensu stub ready', url: `http://127.0.0.1:${port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
