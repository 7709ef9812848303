/**
 * STUB of the Sensu Go backend API — a Sensu Go backend cannot be built or installed on these machines
 * (its Go module is not served and Debian has no package). It follows the documented core/v2 API for
 * what Stackwire uses, with `Authorization: Key <api key>`:
 *   PUT/DELETE/GET /api/core/v2/namespaces/{ns}/silenced[/{name}]
 *   POST /api/core/v2/namespaces/{ns}/events, PUT …/events/{entity}/{check}: stored as Sensu's event
 *     store does (backend/store/etcd/event_store.go): the latest event per entity/check, its `id` a
 *     UUID when none is given, `timestamp` now when 0, the check's `history` ({status, executed}, last
 *     21), `occurrences`/`occurrences_watermark`, `state` (passing/failing; flap detection is not
 *     simulated), `last_ok`, `total_state_change`; the entity's `entity_class` "proxy" when none.
 *   GET …/events (ordered by entity then check, as etcd keys are), …/events/{entity},
 *     …/events/{entity}/{check}, DELETE …/events/{entity}/{check}; lists are paged with `limit` and
 *     `continue` (the next page's token in the `Sensu-Continue` response header, absent on the last page).
 * It records every request but the event reads at GET /_stub/requests so tests can see what a deploy told Sensu.
 *   node dist/test/sensu-stub.js --key KEY   → prints {"url": …} when listening on 127.0.0.1
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { key: { type: 'string' }, port: { type: 'string', default: '0' } } });
const apiKey = values.key ?? process.env.STACKWIRE_TEST_SENSU_KEY ?? 'stub-key';
const silenced = new Map<string, unknown>();
const requests: { method: string; path: string; body: unknown; at: string }[] = [];

type Json = Record<string, unknown>;
interface HistoryEntry {
  status: number;
  executed: number;
}
/** Events by `namespace\0entity\0check` (the etcd key order: namespace, entity, check). */
const events = new Map<string, Json>();
const eventKey = (ns: string, entity: string, check: string) => `${ns}\0${entity}\0${check}`;

/** Sensu's flap-detection input: the weighted share of status changes over the last 21 results (0 until there are 21). */
function totalStateChange(history: HistoryEntry[]): number {
  if (history.length < 21) return 0;
  let changes = 0;
  let weight = 0.8;
  for (let i = 1; i < history.length; i++) {
    if (history[i].status !== history[i - 1].status) changes += weight;
    weight += 0.02;
  }
  return Math.trunc((changes / 20) * 100);
}

/** Stores an event as Sensu's event store does, merged with the previous one of its entity/check. */
function storeEvent(ns: string, body: Json): Json {
  const entity = { ...(body.entity as Json) };
  const entityMeta: Json = { namespace: ns, ...(entity.metadata as Json) };
  entity.metadata = entityMeta;
  if (!entity.entity_class) entity.entity_class = 'proxy';
  const check = { ...(body.check as Json) };
  const checkMeta: Json = { namespace: ns, ...(check.metadata as Json) };
  check.metadata = checkMeta;
  const status = check.status as number;
  const executed = typeof check.executed === 'number' ? check.executed : 0;
  const key = eventKey(ns, String(entityMeta.name), String(checkMeta.name));
  const prev = events.get(key)?.check as Json | undefined;
  const history = [...((prev?.history as HistoryEntry[] | undefined) ?? []), { status, executed }].slice(-21);
  let occurrences = (prev?.occurrences as number | undefined) ?? 0;
  let watermark = (prev?.occurrences_watermark as number | undefined) ?? 0;
  const n = history.length;
  occurrences = n > 1 && history[n - 1].status === history[n - 2].status ? occurrences + 1 : 1;
  if (n > 1 && history[n - 1].status !== 0 && history[n - 2].status === 0) watermark = 1;
  else if (occurrences > watermark) watermark++;
  const event: Json = {
    ...body,
    metadata: { namespace: ns, ...(body.metadata as Json | undefined) },
    entity,
    check: {
      handlers: [],
      output: '',
      issued: 0,
      interval: 0,
      ...check,
      executed,
      history,
      occurrences,
      occurrences_watermark: watermark,
      last_ok: status === 0 ? executed : ((prev?.last_ok as number | undefined) ?? 0),
      state: status === 0 ? 'passing' : 'failing',
      total_state_change: totalStateChange(history),
    },
    timestamp: typeof body.timestamp === 'number' && body.timestamp > 0 ? body.timestamp : Math.floor(Date.now() / 1000),
    id: typeof body.id === 'string' && body.id ? body.id : crypto.randomUUID(),
  };
  events.set(key, event);
  return event;
}

/** One page of a list, as Sensu pages it: `limit` items after the `continue` token's key. */
function page(keys: string[], query: URLSearchParams): { items: Json[]; next: string | undefined } | undefined {
  const limit = query.get('limit') ? Number(query.get('limit')) : 0;
  if (!Number.isInteger(limit) || limit < 0) return undefined;
  let after = '';
  const token = query.get('continue');
  if (token) {
    try {
      after = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { key: string }).key;
    } catch {
      return undefined;
    }
  }
  const rest = keys.sort().filter((k) => k > after);
  const taken = limit > 0 ? rest.slice(0, limit) : rest;
  const next = limit > 0 && rest.length > limit ? Buffer.from(JSON.stringify({ key: taken[taken.length - 1] })).toString('base64url') : undefined;
  return { items: taken.map((k) => events.get(k)!), next };
}

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
    const m = /^\/api\/core\/v2\/namespaces\/([^/]+)\/(silenced|events)(?:\/(.+))?$/.exec(url.pathname);
    if (!(m?.[2] === 'events' && req.method === 'GET')) requests.push({ method: req.method ?? '', path: url.pathname, body, at: new Date().toISOString() });
    if (!m) return send(404, { message: 'not found' });
    const [, rawNs, kind, name] = m;
    const ns = decodeURIComponent(rawNs);
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
    if (kind === 'events') {
      const parts = name ? name.split('/').map(decodeURIComponent) : [];
      if (parts.length > 2) return send(404, { message: 'not found' });
      const [entityName, checkName] = parts;
      if (req.method === 'GET') {
        if (checkName !== undefined) {
          const e = events.get(eventKey(ns, entityName, checkName));
          return e ? send(200, e) : send(404, { message: 'not found' });
        }
        const prefix = entityName !== undefined ? eventKey(ns, entityName, '') : `${ns}\0`;
        const p = page(
          [...events.keys()].filter((k) => k.startsWith(prefix)),
          url.searchParams,
        );
        if (!p) return send(400, { message: 'invalid limit or continue token' });
        if (p.next) res.setHeader('Sensu-Continue', p.next);
        return send(200, p.items);
      }
      if (req.method === 'DELETE' && checkName !== undefined)
        return events.delete(eventKey(ns, entityName, checkName)) ? send(204) : send(404, { message: 'not found' });
      if ((req.method === 'POST' && entityName === undefined) || (req.method === 'PUT' && checkName !== undefined)) {
        const b = body as { entity?: { metadata?: { name?: string } }; check?: { metadata?: { name?: string }; status?: number } };
        if (!b?.entity?.metadata?.name || !b.check?.metadata?.name || typeof b.check.status !== 'number')
          return send(400, { message: 'an event needs entity and check' });
        if (req.method === 'PUT' && (b.entity.metadata.name !== entityName || b.check.metadata.name !== checkName))
          return send(400, { message: 'the entity and check of the event must match the URL' });
        storeEvent(ns, body as Json);
        return send(201);
      }
    }
    return send(405, { message: 'method not allowed' });
  });
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ event: 'sensu stub ready', url: `http://127.0.0.1:${port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
