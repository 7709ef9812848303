/**
 * A benchmark's own API process on a free loopback port, with no rate limit, and an admin key to call
 * it with (written to the run's folder): what the webhook and fleet benchmarks drive.
 */
import path from 'node:path';
import { freePort, startService, type Service } from '../lib/services.js';
import { API_ENTRY, NODE, ensureLocalAdminKey } from '../scripts/stack.js';

export type Call = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export interface BenchApi {
  api: Service;
  url: string;
  /** Calls the API with the admin key; a non-2xx answer throws with its body. */
  call: Call;
}

export async function startBenchApi(o: { env: NodeJS.ProcessEnv; dbUrl: string; runDir: string; log: (m: string) => void }): Promise<BenchApi> {
  const port = await freePort();
  const api = await startService({
    name: 'api',
    command: NODE,
    args: [API_ENTRY, '--port', String(port), '--json'],
    env: { ...o.env, STACKWIRE_API_RATE_LIMIT: '1000000' },
    ready: /"event":"api ready"/,
    output: path.join(o.runDir, 'api.log'),
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    const { key } = await ensureLocalAdminKey(o.dbUrl, path.join(o.runDir, 'credentials.json'), url, o.log);
    const call: Call = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${url}${p}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    return { api, url, call };
  } catch (err) {
    await api.stop(5000);
    throw err;
  }
}
