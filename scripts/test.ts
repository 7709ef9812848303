/**
 * `npm test`: an isolated stack, then the ava suite against it.
 * Its own Temporal dev server on a free port (TestWorkflowEnvironment.createLocal with the
 * project's Temporal CLI binary), its own database (created, migrated, dropped afterwards), the
 * orchestrator and two regional workers, the API on a free port. Ends with `N passed, N failed`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../common/constants.js';
import { PROJECT_ROOT, loadConfig } from '../lib/config.js';
import { EAGER_DISPATCH_FLAGS, UI_FLAGS } from '../lib/dev-server.js';
import { prepareDatabase, startProcesses, type Processes } from './stack.js';
import { createKey } from '../api/apikeys.js';
import { createPool } from '../db/pool.js';
import { freePort, startService } from '../lib/services.js';
import { obtainTemporalCli } from '../lib/temporal-cli.js';
import { newSecretKey } from '../lib/secrets.js';
import { ensureSystemPackages } from '../lib/system-packages.js';
import { lookupUser, secureDataDir } from '../lib/isolation.js';
import { removeFence, stackFenceTargets } from '../lib/network-fence.js';
import { dropDatabase, ensureDatabase, provisionDatabase, withDatabase } from '../db/provision.js';

const log = (m: string) => process.stdout.write(`[test] ${m}\n`);
export const TEST_PACK = path.join(PROJECT_ROOT, 'test', 'fixtures', 'packs', 'testkit');
export const EXAMPLE_PACK = path.join(PROJECT_ROOT, 'examples', 'packs', 'ops');
export const DEPLOY_PACK = path.join(PROJECT_ROOT, 'examples', 'packs', 'deploykit');
const REGIONS = ['us-east', 'eu-west'];

async function runAva(env: NodeJS.ProcessEnv, extraArgs: string[]): Promise<{ passed: number; failed: number; skipped: number; code: number | null }> {
  const ava = path.join(PROJECT_ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
  const child = spawn(process.execPath, [ava, '--tap', ...extraArgs], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    process.stdout.write(`${line}\n`);
    if (/^ok \d+/.test(line)) {
      if (/# SKIP/i.test(line)) skipped++;
      else passed++;
    } else if (/^not ok \d+/.test(line)) {
      if (/# TODO/i.test(line)) skipped++;
      else failed++;
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { passed, failed, skipped, code };
}

async function main(): Promise<number> {
  const config = loadConfig({ ...process.env, TEMPORAL_ADDRESS: undefined, DATABASE_URL: process.env.DATABASE_URL });
  const runsDir = path.join(config.dataDir, 'test-runs');
  const runDir = path.join(runsDir, String(Date.now()));
  // As npm start does: the data folders 0700, so scripts (run as stackwire-run) cannot read them.
  secureDataDir(config.dataDir);
  fs.mkdirSync(runDir, { recursive: true });
  secureDataDir(runDir);
  // Keep the logs of the last few runs only.
  const runs = fs
    .readdirSync(runsDir)
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(b) - Number(a));
  for (const old of runs.slice(5)) fs.rmSync(path.join(runsDir, old), { recursive: true, force: true });
  const cleanups: (() => Promise<void>)[] = [];
  let result = { passed: 0, failed: 0, skipped: 0, code: 1 as number | null };
  let lintFailed = false;
  try {
    // Static checks first: ESLint (no-floating-promises, the workflow import fence, SQL only in db/),
    // Prettier, and the layering of the top-level folders (dependency-cruiser): `npm run lint`.
    log('lint (eslint, prettier, dependency rules) …');
    const lint = await new Promise<number | null>((resolve) => {
      spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'lint'], { cwd: PROJECT_ROOT, stdio: 'inherit' }).on('close', resolve);
    });
    lintFailed = lint !== 0;
    log(lintFailed ? 'lint: FAILED' : 'lint: clean');

    // puppet apply and the monitoring plugins the deploy tests run for real; stackwire-run; Chromium for the Web UI test.
    ensureSystemPackages(log, process.env, config.isolation, true);
    const cli = await obtainTemporalCli(config, process.env, log);
    log(`temporal: CLI from ${cli.source}: ${cli.path}`);
    // With its Web UI (public path /ui), which the API serves signed in (test/web-ui.test.ts).
    const uiPort = await freePort();
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: cli.path },
        ip: '127.0.0.1',
        namespace: 'default',
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
        ui: true,
        uiPort,
        extraArgs: [...EAGER_DISPATCH_FLAGS, ...UI_FLAGS],
        log: { level: 'warn', format: 'json' },
      },
    });
    cleanups.push(() => env.teardown());
    const address = env.address;
    log(`temporal: dev server on ${address}`);

    // The test database: its own, on whatever server provisioning finds, dropped at the end.
    const server = await provisionDatabase({ ...config, database: { ...config.database, name: 'postgres' } }, log);
    cleanups.push(() => server.stop());
    const dbName = `stackwire_test_${process.pid}_${Date.now().toString(36)}`;
    const adminUrl = withDatabase(server.url, 'postgres');
    await ensureDatabase(adminUrl, dbName);
    cleanups.push(() => dropDatabase(adminUrl, dbName));
    const dbUrl = withDatabase(server.url, dbName);
    await prepareDatabase(dbUrl, [EXAMPLE_PACK, DEPLOY_PACK, TEST_PACK], log);
    log(`postgres: database ${dbName} (${server.source})`);

    // A STUB of the Sensu Go API (no Sensu backend can be installed here); see test/sensu-stub.ts.
    const sensuKey = newSecretKey();
    const sensu = await startService({
      name: 'sensu-stub',
      command: process.execPath,
      args: [path.join(PROJECT_ROOT, 'dist', 'test', 'sensu-stub.js')],
      // By environment, not argv: every process's command line is readable by every user (/proc/*/cmdline).
      env: { ...process.env, STACKWIRE_TEST_SENSU_KEY: sensuKey },
      ready: /sensu stub ready/,
      output: path.join(runDir, 'sensu-stub.log'),
    });
    cleanups.push(() => sensu.stop(2000));
    const sensuUrl = (JSON.parse(sensu.readyLine) as { url: string }).url;
    // The key in the data folder too, with npm start's modes, so the isolation test tries to read a real file.
    const secretKey = newSecretKey();
    fs.writeFileSync(path.join(runDir, 'secret.key'), `${secretKey}\n`, { mode: 0o600 });
    // The one folder path ingest may read on the test workers.
    const ingestRoot = path.join(runDir, 'ingest-paths');
    fs.mkdirSync(ingestRoot);
    // The wheelhouse StackStorm packs' requirements install from (no Python index is reachable here):
    // test/st2-packs.test.ts builds its wheel into it.
    const wheelhouse = path.join(runDir, 'wheelhouse');
    fs.mkdirSync(wheelhouse);
    const childEnv = {
      ...process.env,
      SENSU_API_URL: sensuUrl,
      SENSU_API_KEY: sensuKey,
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: dbUrl,
      STACKWIRE_REGIONS: REGIONS.join(','),
      STACKWIRE_SHUTDOWN_GRACE: '5',
      STACKWIRE_SECRET_KEY: secretKey,
      STACKWIRE_WEB_UI_URL: `http://127.0.0.1:${uiPort}`,
      // The secret the webhook tests sign GitHub deliveries with.
      STACKWIRE_GITHUB_WEBHOOK_SECRET: newSecretKey(),
      // The suite's git repositories are local (file://); test/isolation.test.ts checks they are refused without this.
      STACKWIRE_GIT_ALLOW_FILE: 'true',
      STACKWIRE_INGEST_PATHS: ingestRoot,
      STACKWIRE_PIP_FIND_LINKS: wheelhouse,
      STACKWIRE_LOG_LEVEL: 'info',
      // Deploy state (Puppet-managed files) per run: two test runs of one checkout never share it.
      STACKWIRE_DATA_DIR: runDir,
      // Real role classes (test/fixtures/puppet/modules) instead of the stand-in ones.
      STACKWIRE_PUPPET_MODULEPATH: path.join(PROJECT_ROOT, 'test', 'fixtures', 'puppet', 'modules'),
    };
    const keyPool = createPool(dbUrl, 1);
    cleanups.push(() => keyPool.end());
    // The workers fence the run user off this stack's database and Temporal; the fence goes with the stack.
    const runUser = config.isolation.runAs ? lookupUser(config.isolation.runAs) : undefined;
    if (runUser) cleanups.push(() => removeFence(runUser.uid, stackFenceTargets(dbUrl, address), config.scriptEnv));
    const procs: Processes = await startProcesses({ env: childEnv, regions: REGIONS, apiPort: 0, logDir: runDir, workerMetrics: true, log });
    cleanups.push(() => procs.stop());
    log(`api: ${procs.apiUrl}; logs in ${path.relative(PROJECT_ROOT, runDir)}`);

    // The suite's admin key (the stack's processes never see it); tests make other keys through the API.
    const admin = await createKey({ pool: keyPool }, { name: 'test-admin', role: 'admin', expiresInSeconds: 3600, createdBy: 'npm test' });
    result = await runAva(
      {
        ...childEnv,
        STACKWIRE_API_KEY: admin.key,
        // Never a developer's own credentials file.
        STACKWIRE_CREDENTIALS: path.join(runDir, 'no-credentials.json'),
        STACKWIRE_API_URL: procs.apiUrl,
        STACKWIRE_TEST_SENSU_URL: sensuUrl,
        STACKWIRE_TEST_ADMIN_DB_URL: adminUrl,
        STACKWIRE_TEST_LOG_DIR: runDir,
        // Where each worker serves /metrics and /healthz: {"orchestrator": url, "worker-us-east": url, …}.
        STACKWIRE_TEST_WORKER_METRICS: JSON.stringify(procs.workerMetrics),
        STACKWIRE_TEST_PACK: TEST_PACK,
      },
      process.argv.slice(2),
    );
  } catch (err) {
    process.stderr.write(`[test] set-up failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    result.failed = Math.max(result.failed, 1);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`teardown: ${String(e)}`));
  }
  if (result.failed === 0 && result.passed === 0) {
    process.stderr.write('[test] no test ran\n');
    result.failed = 1;
  }
  if (result.code !== 0 && result.failed === 0) result.failed = 1; // ava itself failed (e.g. an uncaught error in a test file)
  if (lintFailed) result.failed += 1;
  process.stdout.write(`${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''}\n`);
  return result.failed === 0 ? 0 : 1;
}

process.exitCode = await main();
