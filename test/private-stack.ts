/**
 * A Stackwire stack of a test's own, for the kill matrix: a Temporal dev server, an orchestrator and one
 * region's worker as separate processes (so that one can be killed), and an API — on a database the test
 * names (the suite's, or a private Postgres it restarts). Nothing of it is shared with the suite's stack,
 * so killing its parts disturbs no other test.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../common/constants.js';
import { createKey } from '../api/apikeys.js';
import { createPool, type Pool } from '../db/pool.js';
import { EAGER_DISPATCH_FLAGS } from '../lib/dev-server.js';
import { lookupUser } from '../lib/isolation.js';
import { removeFence, stackFenceTargets } from '../lib/network-fence.js';
import { API_ENTRY, NODE, WORKER_ENTRY } from '../lib/paths.js';
import { startService, type Service } from '../lib/services.js';
import { obtainTemporalCli } from '../lib/temporal-cli.js';
import { stackwireDataConverter } from '../lib/temporal-client.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../db/provision.js';
import { prepareDatabase } from '../scripts/stack.js';
import { TEST_PACK, cli, config, eventually, type CliResult } from './helpers.js';

/**
 * A Stackwire database of the test's own on the Postgres server `adminUrl` names: migrated, with the
 * built-in actions and the testkit pack. (`sot apply` replaces the whole source of truth: a test that
 * applies its own must not do it on the suite's database, where other tests' components live.)
 */
export async function privateDatabase(adminUrl: string, tag: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `stackwire_${tag.replace(/[^a-z0-9]/g, '_')}_${crypto.randomBytes(3).toString('hex')}`;
  await ensureDatabase(adminUrl, name);
  const url = withDatabase(adminUrl, name);
  await prepareDatabase(url, [TEST_PACK], () => undefined);
  return { url, drop: () => dropDatabase(adminUrl, name) };
}

export interface PrivateStack {
  /** The API's base URL, and an admin key of this stack's database. */
  url: string;
  key: string;
  region: string;
  /** A scratch folder every user may write (the run user's scripts write their pids here). */
  dir: string;
  client: Client;
  /** This stack's Stackwire database. */
  pool: Pool;
  orchestrator: Service;
  worker: Service;
  /** Starts another orchestrator process (after the first was killed). */
  startOrchestrator(name: string): Promise<Service>;
  /** An API call with this stack's key. */
  call<T>(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** The CLI, against this stack. */
  cli(args: string[]): Promise<CliResult>;
  stop(): Promise<void>;
}

export async function startPrivateStack(o: { tag: string; databaseUrl: string; log: (m: string) => void }): Promise<PrivateStack> {
  const run = crypto.randomBytes(3).toString('hex');
  const region = `${o.tag}-${run}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stackwire-${o.tag}-`));
  fs.chmodSync(dir, 0o777);
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => o.log(`cleanup: ${String(e)}`));
  };
  try {
    const temporalCli = await obtainTemporalCli(config, process.env, () => undefined);
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCli.path },
        ip: '127.0.0.1',
        namespace: config.temporal.namespace,
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
        extraArgs: EAGER_DISPATCH_FLAGS,
        log: { level: 'warn', format: 'json' },
      },
    });
    cleanups.push(() => env.teardown());
    const address = env.address;
    const procEnv = { ...process.env, TEMPORAL_ADDRESS: address, DATABASE_URL: o.databaseUrl, STACKWIRE_REGIONS: region };
    // The worker fences the run user off this stack's Temporal and database; the fence goes with the stack.
    const runUser = config.isolation.runAs ? lookupUser(config.isolation.runAs) : undefined;
    if (runUser) cleanups.push(() => removeFence(runUser.uid, stackFenceTargets(o.databaseUrl, address), config.scriptEnv));
    const start = async (name: string, args: string[], ready: RegExp) => {
      const s = await startService({ name, command: NODE, args, env: procEnv, ready, readyTimeoutMs: 180_000, output: path.join(dir, `${name}.log`) });
      cleanups.push(() => s.stop(5000));
      return s;
    };
    const startOrchestrator = (name: string) => start(name, [WORKER_ENTRY, '--orchestrator'], /worker ready/);
    const orchestrator = await startOrchestrator('orchestrator');
    const worker = await start('worker', [WORKER_ENTRY, '--region', region], /worker ready/);
    const api = await start('api', [API_ENTRY, '--port', '0', '--json'], /"event":"api ready"/);
    const url = (JSON.parse(api.readyLine.slice(api.readyLine.indexOf('{'))) as { url: string }).url;
    const pool = createPool(o.databaseUrl, 4);
    cleanups.push(() => pool.end());
    const { key } = await createKey({ pool }, { name: `${o.tag}-${run}`, role: 'admin', expiresInSeconds: null, createdBy: 'test' });
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: stackwireDataConverter(config) });
    const call = async <T>(method: string, urlPath: string, body?: unknown) => {
      const res = await fetch(`${url}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as T };
    };
    return {
      url,
      key,
      region,
      dir,
      client,
      pool,
      orchestrator,
      worker,
      startOrchestrator,
      call,
      cli: (args) => cli(args, { STACKWIRE_API_URL: url, STACKWIRE_API_KEY: key }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A source-of-truth folder: the components given (deploy action testkit.sleep, Puppet role role::lost_leg), placed in the stack's region. */
export function writeSot(
  stack: PrivateStack,
  components: { name: string; seconds: number; dependsOn?: string[] }[],
): { dir: string; pidfile: (component: string) => string } {
  const sot = path.join(stack.dir, 'sot');
  fs.mkdirSync(sot, { recursive: true });
  const pidfile = (c: string) => path.join(stack.dir, `${c}.pids`);
  fs.writeFileSync(
    path.join(sot, 'stack.yaml'),
    [
      'regions:',
      `  - name: ${stack.region}`,
      'environments:',
      '  - name: production',
      'components:',
      ...components.flatMap((c) => [
        `  - name: ${c.name}`,
        `    repository: https://ghe.example.com/test/${c.name}.git`,
        '    platform: docker',
        ...(c.dependsOn?.length ? [`    depends_on: [${c.dependsOn.join(', ')}]`] : []),
        '    deploy_params:',
        `      pidfile: ${pidfile(c.name)}`,
        `      seconds: ${c.seconds}`,
        '    puppet_role: role::lost_leg',
        '    actions:',
        '      deploy: testkit.sleep',
        '    placements:',
        `      production: [${stack.region}]`,
      ]),
      '',
    ].join('\n'),
  );
  return { dir: sot, pidfile };
}

/** POSTs until the server has seen the region's worker poll (until then the API answers 409 no_worker). */
export async function startWhenServed<T>(stack: PrivateStack, urlPath: string, body: unknown): Promise<{ status: number; body: T }> {
  return eventually(
    async () => {
      const r = await stack.call<T & { error?: { code: string } }>('POST', urlPath, body);
      return r.status === 409 && r.body.error?.code === 'no_worker' ? undefined : r;
    },
    'the region worker to be seen by Temporal',
    60_000,
  );
}

/** The pids the deploy action wrote (its shell and its sleep), once it has started. */
export async function scriptPids(pidfile: string, what: string): Promise<number[]> {
  await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), what, 120_000);
  const pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
  fs.rmSync(pidfile); // a second run of the action would write it again
  return pids;
}
