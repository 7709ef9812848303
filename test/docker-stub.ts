/**
 * A STUB of the Docker Engine API (v1.43) — no Docker engine runs on these machines — serving exactly
 * the calls lib/docker-engine.ts makes, with their shapes and status codes: POST /images/create
 * (a progress stream), GET /containers/{id|name}/json, POST /containers/create?name=,
 * POST /containers/{id}/start|stop|rename, DELETE /containers/{id}. A container's health goes
 * starting → healthy, or → unhealthy for the tags listed in `unhealthy`. GET /_stub/calls and
 * /_stub/containers show what happened.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface StubContainer {
  Id: string;
  Name: string;
  Image: string;
  Env: string[];
  Labels: Record<string, string>;
  PortBindings: Record<string, { HostPort: string }[]>;
  running: boolean;
  inspections: number;
}

export interface DockerStub {
  url: string;
  calls: { method: string; path: string }[];
  containers: () => { name: string; image: string; running: boolean }[];
  /** The Env a container was created with. */
  env: (name: string) => string[] | undefined;
  close: () => Promise<void>;
}

export async function startDockerStub(o: { unhealthy?: string[] } = {}): Promise<DockerStub> {
  const images = new Set<string>();
  const containers = new Map<string, StubContainer>();
  const calls: { method: string; path: string }[] = [];
  const find = (idOrName: string) => containers.get(idOrName) ?? [...containers.values()].find((c) => c.Name === `/${idOrName}` || c.Id.startsWith(idOrName));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stub');
      calls.push({ method: req.method ?? '', path: `${url.pathname}${url.search}` });
      const json = (status: number, body?: unknown) => {
        res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      const m = /^\/v1\.43(\/.*)$/.exec(url.pathname);
      if (!m) return json(404, { message: 'page not found' });
      const p = m[1];
      let r: RegExpExecArray | null;
      if (req.method === 'POST' && p === '/images/create') {
        const ref = `${url.searchParams.get('fromImage')}:${url.searchParams.get('tag') ?? 'latest'}`;
        if (ref.includes('missing')) return json(404, { message: `pull access denied for ${ref}, repository does not exist or may require 'docker login'` });
        images.add(ref);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          `{"status":"Pulling from ${url.searchParams.get('fromImage')}","id":"${url.searchParams.get('tag')}"}\n{"status":"Status: Downloaded newer image for ${ref}"}\n`,
        );
        return;
      }
      if (req.method === 'POST' && p === '/containers/create') {
        const name = url.searchParams.get('name') ?? '';
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
          Image: string;
          Env?: string[];
          Labels?: Record<string, string>;
          HostConfig?: { PortBindings?: StubContainer['PortBindings'] };
        };
        if (find(name)) return json(409, { message: `Conflict. The container name "/${name}" is already in use` });
        if (!images.has(body.Image)) return json(404, { message: `No such image: ${body.Image}` });
        const c: StubContainer = {
          Id: crypto.randomBytes(32).toString('hex'),
          Name: `/${name}`,
          Image: body.Image,
          Env: body.Env ?? [],
          Labels: body.Labels ?? {},
          PortBindings: body.HostConfig?.PortBindings ?? {},
          running: false,
          inspections: 0,
        };
        containers.set(c.Id, c);
        return json(201, { Id: c.Id, Warnings: [] });
      }
      if ((r = /^\/containers\/([^/]+)\/json$/.exec(p)) && req.method === 'GET') {
        const c = find(decodeURIComponent(r[1]));
        if (!c) return json(404, { message: `No such container: ${decodeURIComponent(r[1])}` });
        const unhealthy = (o.unhealthy ?? []).some((tag) => c.Image.endsWith(`:${tag}`));
        const health = c.running ? (c.inspections++ === 0 ? 'starting' : unhealthy ? 'unhealthy' : 'healthy') : undefined;
        return json(200, {
          Id: c.Id,
          Name: c.Name,
          Config: { Image: c.Image, Env: c.Env, Labels: c.Labels },
          HostConfig: { PortBindings: c.PortBindings },
          State: { Status: c.running ? 'running' : 'exited', Running: c.running, ...(health ? { Health: { Status: health } } : {}) },
        });
      }
      if ((r = /^\/containers\/([^/]+)\/(start|stop|rename)$/.exec(p)) && req.method === 'POST') {
        const c = find(decodeURIComponent(r[1]));
        if (!c) return json(404, { message: `No such container: ${decodeURIComponent(r[1])}` });
        if (r[2] === 'rename') {
          const name = url.searchParams.get('name') ?? '';
          if (find(name)) return json(409, { message: `Conflict. The container name "/${name}" is already in use` });
          c.Name = `/${name}`;
          return json(204);
        }
        const want = r[2] === 'start';
        if (c.running === want) return json(304);
        c.running = want;
        c.inspections = 0;
        return json(204);
      }
      if ((r = /^\/containers\/([^/]+)$/.exec(p)) && req.method === 'DELETE') {
        const c = find(decodeURIComponent(r[1]));
        if (!c) return json(404, { message: `No such container: ${decodeURIComponent(r[1])}` });
        containers.delete(c.Id);
        return json(204);
      }
      return json(404, { message: `the stub does not serve ${req.method} ${p}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    containers: () => [...containers.values()].map((c) => ({ name: c.Name.slice(1), image: c.Image, running: c.running })),
    env: (name: string) => find(name)?.Env,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
