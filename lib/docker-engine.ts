/**
 * The Docker Engine API calls a docker deploy leg makes (API version 1.43), over a unix socket or TCP:
 * pull an image, inspect, stop, rename, remove, create and start a container. Nothing else of Docker is
 * used; test/docker-stub.ts serves exactly these calls with their shapes.
 */
import http from 'node:http';

export const DOCKER_API = '/v1.43';

export class DockerError extends Error {
  override name = 'DockerError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  Config: { Image: string; Env?: string[] | null; Labels?: Record<string, string> | null };
  State: { Status: string; Running: boolean; Health?: { Status: string } };
}

export interface ContainerSpec {
  image: string;
  env: Record<string, string>;
  /** host:container[/proto]. */
  ports: string[];
  labels: Record<string, string>;
}

export class DockerEngine {
  private readonly socketPath: string | undefined;
  private readonly host: string | undefined;
  private readonly port: number | undefined;

  constructor(readonly endpoint: string) {
    if (endpoint.startsWith('unix://')) this.socketPath = endpoint.slice('unix://'.length);
    else {
      const u = new URL(endpoint.replace(/^tcp:/, 'http:'));
      if (u.protocol !== 'http:') throw new DockerError(`${endpoint}: only unix:// and tcp:// (http) endpoints are supported`, 0);
      this.host = u.hostname;
      this.port = Number(u.port || 2375);
    }
  }

  private request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method,
          path: `${DOCKER_API}${path}`,
          ...(this.socketPath ? { socketPath: this.socketPath } : { host: this.host, port: this.port }),
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
          timeout: 120_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 120 s')));
      req.on('error', (err) => reject(new DockerError(`Docker Engine at ${this.endpoint}: ${err.message}`, 0)));
      if (payload) req.write(payload);
      req.end();
    });
  }

  private async call(method: string, path: string, ok: number[], body?: unknown): Promise<{ status: number; text: string }> {
    const r = await this.request(method, path, body);
    if (!ok.includes(r.status)) {
      let message = r.text;
      try {
        message = (JSON.parse(r.text) as { message?: string }).message ?? r.text;
      } catch {
        // not JSON: the text as it came
      }
      throw new DockerError(`${method} ${path}: ${r.status} ${message.trim().slice(0, 500)}`, r.status);
    }
    return r;
  }

  /** Pulls image:tag; the progress stream's error line (a 200 with {"error"}) is a failure too. */
  async pull(image: string, tag: string): Promise<void> {
    const r = await this.call('POST', `/images/create?fromImage=${encodeURIComponent(image)}&tag=${encodeURIComponent(tag)}`, [200]);
    for (const line of r.text.split('\n').filter(Boolean)) {
      try {
        const e = JSON.parse(line) as { error?: string };
        if (e.error) throw new DockerError(`pull ${image}:${tag}: ${e.error}`, 200);
      } catch (err) {
        if (err instanceof DockerError) throw err;
      }
    }
  }

  async inspect(name: string): Promise<ContainerInfo | undefined> {
    const r = await this.call('GET', `/containers/${encodeURIComponent(name)}/json`, [200, 404]);
    return r.status === 404 ? undefined : (JSON.parse(r.text) as ContainerInfo);
  }

  async stop(id: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/stop?t=10`, [204, 304]);
  }

  async rename(id: string, name: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/rename?name=${encodeURIComponent(name)}`, [204]);
  }

  async remove(id: string): Promise<void> {
    await this.call('DELETE', `/containers/${encodeURIComponent(id)}?force=true`, [204, 404]);
  }

  async start(id: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/start`, [204, 304]);
  }

  async create(name: string, spec: ContainerSpec): Promise<string> {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostPort: string }[]> = {};
    for (const p of spec.ports) {
      const [host, rest] = p.split(':');
      const key = rest.includes('/') ? rest : `${rest}/tcp`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostPort: host });
    }
    const r = await this.call('POST', `/containers/create?name=${encodeURIComponent(name)}`, [201], {
      Image: spec.image,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      Labels: spec.labels,
      ExposedPorts: exposed,
      HostConfig: { PortBindings: bindings, RestartPolicy: { Name: 'unless-stopped' } },
    });
    return (JSON.parse(r.text) as { Id: string }).Id;
  }
}
