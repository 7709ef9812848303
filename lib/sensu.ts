/**
 * A Sensu Go API client for what a deploy needs — silences around a deploy and check results as events,
 * so they show up in the operator's Sensu — and what the sensu sensor reads: the latest event of every
 * entity/check. API: /api/core/v2/namespaces/{ns}/silenced and /events, authenticated with
 * `Authorization: Key <api key>`; lists are paged with `limit` and `continue` (the next page's token
 * comes in the `Sensu-Continue` response header).
 */
export interface SensuConfig {
  url: string;
  apiKey: string;
  namespace: string;
}

export class SensuError extends Error {
  override name = 'SensuError';
}

/** A Sensu Go event as the API returns it (only what Stackwire reads is typed; the rest is kept as is). */
export interface SensuEvent {
  entity?: { metadata?: { name?: string; namespace?: string }; [k: string]: unknown };
  check?: { metadata?: { name?: string; namespace?: string }; status?: number; output?: string; executed?: number; issued?: number; [k: string]: unknown };
  timestamp?: number;
  id?: string;
  [k: string]: unknown;
}

/** Events a page when listing (Sensu answers at most this many and a continue token). */
const PAGE = 500;
/** Pages at most: a namespace with more events than this is refused rather than read forever. */
const MAX_PAGES = 200;

export class SensuClient {
  constructor(private readonly cfg: SensuConfig) {}

  get namespace(): string {
    return this.cfg.namespace;
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    okStatuses: number[] = [],
    namespace = this.cfg.namespace,
  ): Promise<{ body: unknown; headers: Headers }> {
    const url = `${this.cfg.url.replace(/\/+$/, '')}/api/core/v2/namespaces/${encodeURIComponent(namespace)}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { Authorization: `Key ${this.cfg.apiKey}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new SensuError(`Sensu API at ${this.cfg.url} is unreachable: ${(err as Error).message}`);
    }
    if (!res.ok && !okStatuses.includes(res.status))
      throw new SensuError(`Sensu API ${method} ${path.split('?')[0]} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const text = await res.text();
    return { body: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
  }

  private async call(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<unknown> {
    return (await this.send(method, path, body, okStatuses)).body;
  }

  static silenceName(subscription: string, check: string): string {
    return `${subscription}:${check}`;
  }

  /** Silences a check for a subscription (idempotent: PUT by name), expiring on its own as a safety net. */
  async silence(subscription: string, check: string, reason: string, expireSeconds: number, creator: string): Promise<string> {
    const name = SensuClient.silenceName(subscription, check);
    await this.call('PUT', `/silenced/${encodeURIComponent(name)}`, {
      metadata: { name, namespace: this.cfg.namespace },
      subscription,
      check,
      expire: expireSeconds,
      expire_on_resolve: false,
      creator,
      reason,
    });
    return name;
  }

  /** Removes a silence; one that is already gone is fine. */
  async unsilence(name: string): Promise<void> {
    await this.call('DELETE', `/silenced/${encodeURIComponent(name)}`, undefined, [404]);
  }

  /** Reports a check result as an event for a proxy entity (the component in a region). */
  async sendEvent(entity: string, check: string, status: number, output: string, interval: number): Promise<void> {
    await this.call('POST', '/events', {
      entity: { entity_class: 'proxy', metadata: { name: entity, namespace: this.cfg.namespace } },
      check: { metadata: { name: check, namespace: this.cfg.namespace }, status, output, interval, issued: Math.floor(Date.now() / 1000) },
    });
  }

  /** The latest event of every entity/check in a namespace (the configured one by default), every page of it. */
  async listEvents(namespace = this.cfg.namespace): Promise<SensuEvent[]> {
    const out: SensuEvent[] = [];
    let token = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = `?limit=${PAGE}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
      const r = await this.send('GET', `/events${q}`, undefined, [], namespace);
      if (!Array.isArray(r.body)) throw new SensuError(`Sensu API GET /events answered something that is not a list of events`);
      out.push(...(r.body as SensuEvent[]));
      token = r.headers.get('sensu-continue') ?? '';
      if (!token) return out;
    }
    throw new SensuError(`namespace ${namespace} holds more than ${PAGE * MAX_PAGES} events; watch a smaller namespace`);
  }
}
