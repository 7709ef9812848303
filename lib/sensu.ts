/**
 * A Sensu Go API client for what a deploy needs: silences around a deploy and check results as events,
 * so they show up in the operator's Sensu. API: /api/core/v2/namespaces/{ns}/silenced and /events,
 * authenticated with `Authorization: Key <api key>`.
 */
export interface SensuConfig {
  url: string;
  apiKey: string;
  namespace: string;
}

export class SensuError extends Error {
  override name = 'SensuError';
}

export class SensuClient {
  constructor(private readonly cfg: SensuConfig) {}

  private async call(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<unknown> {
    const url = `${this.cfg.url.replace(/\/+$/, '')}/api/core/v2/namespaces/${encodeURIComponent(this.cfg.namespace)}${path}`;
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
      throw new SensuError(`Sensu API ${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const text = await res.text();
    return text ? (JSON.parse(text) as unknown) : undefined;
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
}
