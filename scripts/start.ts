/**
 * `npm start`: everything on embedded defaults. Temporal dev server with its Web UI (or, with
 * `--engine server`, the full Temporal server on PostgreSQL; or the cluster in TEMPORAL_ADDRESS),
 * Postgres (DATABASE_URL, the local server, or an embedded one), migrations, the example pack,
 * the orchestrator and one worker per region, the API; then runs the example action once and waits
 * for Ctrl-C.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ConfigError, PROJECT_ROOT, loadConfig } from '../lib/config.js';
import { startDevServer, waitForTemporal } from '../lib/dev-server.js';
import { CLI_ENTRY, NODE, ensureLocalAdminKey, ensureSearchAttributes, prepareDatabase, startFullTemporal, startProcesses, type Processes } from './stack.js';
import { TEMPORAL_SERVER_VERSION, serverPorts } from '../lib/temporal-server.js';
import { temporalDatabaseNames } from '../db/temporal-schema.js';
import { obtainTemporalCli } from '../lib/temporal-cli.js';
import { provisionDatabase, type ProvisionedDatabase } from '../db/provision.js';
import type { Service } from '../lib/services.js';
import { newSecretKey } from '../lib/secrets.js';
import { ensureSystemPackages } from '../lib/system-packages.js';
import { lookupUser, secureDataDir } from '../lib/isolation.js';
import { removeFence, stackFenceTargets } from '../lib/network-fence.js';
import { createLogger, type Logger } from '../lib/logger.js';

/** The supervisor's own log: condensed on the terminal, ECS JSON lines in .data/logs/stackwire-start.log. */
let fileLog: Logger | undefined;
const log = (m: string) => {
  process.stdout.write(`[stackwire] ${m}\n`);
  fileLog?.info(m);
};

export const EXAMPLE_PACK = path.join(PROJECT_ROOT, 'examples', 'packs', 'ops');
export const DEPLOY_PACK = path.join(PROJECT_ROOT, 'examples', 'packs', 'deploykit');
export const EXAMPLE_SOT = path.join(PROJECT_ROOT, 'examples', 'sot');

/** The key that seals secret parameters: kept in the data folder (0700; the file 0600) so restarts can open in-flight runs. */
function localSecretKey(dataDir: string): string {
  const file = path.join(dataDir, 'secret.key');
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${newSecretKey()}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return fs.readFileSync(file, 'utf8').trim();
}

const USAGE = `usage: npm start [-- --engine dev|server]

Starts Stackwire and everything it needs on this machine, runs the examples once, and waits for Ctrl-C.

  --engine dev      Temporal's dev server (SQLite) with its Web UI (the default)
  --engine server   the full Temporal server on PostgreSQL (built once with Go, cached per user); no Web UI
  --help            this text

Settings are environment variables (README: Configuration); --engine wins over STACKWIRE_TEMPORAL_ENGINE.
`;

/** npm start's own arguments, checked before anything starts. */
export function parseStartArgs(argv: string[]): { help: boolean; engine?: 'dev' | 'server' } {
  const out: { help: boolean; engine?: 'dev' | 'server' } = { help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--engine' || a.startsWith('--engine=')) {
      const v = a === '--engine' ? argv[++i] : a.slice('--engine='.length);
      if (v !== 'dev' && v !== 'server')
        throw new ConfigError(`--engine ${v ?? '(nothing)'}: give dev (the Temporal dev server) or server (the full Temporal server on PostgreSQL).`);
      out.engine = v;
    } else throw new ConfigError(`unknown argument ${JSON.stringify(a)}.\n${USAGE}`);
  }
  return out;
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseStartArgs>;
  let config: ReturnType<typeof loadConfig>;
  try {
    args = parseStartArgs(process.argv.slice(2));
    if (args.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    config = loadConfig(args.engine ? { ...process.env, STACKWIRE_TEMPORAL_ENGINE: args.engine } : process.env);
  } catch (err) {
    process.stderr.write(`stackwire: ${err instanceof ConfigError ? 'configuration error: ' : ''}${(err as Error).message}\n`);
    return 2;
  }
  // Postgres data, logs and secret.key: readable by the worker's user only, never by the user scripts run as.
  secureDataDir(config.dataDir);
  const logDir = path.join(config.dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  fileLog = createLogger('stackwire-start', config.logLevel, {}, { destination: path.join(logDir, 'stackwire-start.log') });
  const cleanups: (() => Promise<void>)[] = [];
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping: API, workers (running activities may finish), Temporal, Postgres …');
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`while stopping: ${String(e)}`));
    log('stopped');
  };
  // Kept for the whole stop: a Ctrl-C reaches this process twice (from the terminal to the process
  // group, and forwarded by npm), and a second signal left to Node's default would kill it mid-stop,
  // its services half stopped. Ctrl-C again (a fourth signal) forces the exit.
  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) return void shutdown().then(resolve);
      if (signals === 4) {
        log(`${signal} again: exiting now, without waiting for the rest to stop`);
        process.exit(130);
      }
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });

  try {
    ensureSystemPackages(log, process.env, config.isolation); // puppet apply and the monitoring plugins, for deploys; the stackwire-run user
    let address: string;
    let uiUrl: string | undefined;
    let db: ProvisionedDatabase | undefined;
    if (config.temporal.address) {
      address = config.temporal.address;
      log(`temporal: using the cluster at ${address} (TEMPORAL_ADDRESS); no server started`);
      await waitForTemporal(address, config.temporal.namespace, 30_000, config.temporal.tls);
    } else if (config.temporal.engine === 'server') {
      // The full server keeps its own two databases on the Postgres Stackwire uses.
      const pg = await provisionDatabase(config, log);
      db = pg;
      cleanups.push(() => pg.stop());
      const names = temporalDatabaseNames(config.database.name);
      const server = await startFullTemporal({
        config,
        databaseUrl: db.url,
        names,
        ports: serverPorts(config.temporal.devPort),
        dir: path.join(config.dataDir, 'temporal-server'),
        logFile: path.join(config.dataDir, 'logs', 'temporal.log'),
        log,
      });
      cleanups.push(() => server.stop(30_000));
      address = server.address;
      log(
        `temporal: full server v${TEMPORAL_SERVER_VERSION} on ${address} (databases ${names.name}, ${names.visibilityName}; started in ${(server.timings.startMs / 1000).toFixed(1)} s). ` +
          'No Web UI with --engine server: the UI is a program of its own (temporalio/ui, as in temporal-compose.yml).',
      );
    } else {
      const cli = await obtainTemporalCli(config, process.env, log);
      log(`temporal: CLI from ${cli.source}: ${cli.path}`);
      const server: { service: Service; address: string; uiUrl: string | undefined } = await startDevServer({
        cli: cli.path,
        port: config.temporal.devPort,
        uiPort: config.temporal.devUiPort,
        dbFile: path.join(config.dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        logFile: path.join(config.dataDir, 'logs', 'temporal.log'),
        // Payloads are encrypted (lib/payload-codec.ts): the Web UI decodes them through the API's codec endpoint.
        uiCodecEndpoint: `${config.api.url}/api/v1/codec`,
      });
      cleanups.push(() => server.service.stop(10_000));
      address = server.address;
      uiUrl = server.uiUrl;
      log(`temporal: dev server on ${address}, its Web UI at ${uiUrl} (ciphertext only there: read it signed in at the API's /ui)`);
    }
    await ensureSearchAttributes(address, config.temporal.namespace, config.temporal.tls);

    if (!db) {
      const pg = await provisionDatabase(config, log);
      db = pg;
      cleanups.push(() => pg.stop());
    }
    const registered = await prepareDatabase(db.url, [EXAMPLE_PACK, DEPLOY_PACK], log);
    log(`catalog: ${registered.map((r) => `${r.name} v${r.version} (${r.change})`).join(', ')}`);

    const env = {
      ...process.env,
      STACKWIRE_SECRET_KEY: config.secretKey ? config.secretKey.toString('base64') : localSecretKey(config.dataDir),
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: db.url,
      STACKWIRE_REGIONS: config.regions.join(','),
      // The API serves the dev server's Web UI at /ui (it sees TEMPORAL_ADDRESS, so it would not assume one).
      ...(uiUrl && config.api.webUiUrl ? { STACKWIRE_WEB_UI_URL: config.api.webUiUrl } : {}),
    };
    // The workers fence the run user off this stack's database and Temporal; the fence goes with the stack.
    const runUser = config.isolation.runAs ? lookupUser(config.isolation.runAs) : undefined;
    if (runUser) cleanups.push(() => removeFence(runUser.uid, stackFenceTargets(db.url, address), config.scriptEnv));
    // Each process's ECS JSON lines in .data/logs/<process>.log (for Filebeat), condensed on the terminal;
    // each worker's /metrics and /healthz on a free loopback port.
    const procs: Processes = await startProcesses({
      env,
      regions: config.regions,
      apiPort: config.api.port,
      logDir,
      echo: true,
      workerMetrics: true,
      layout: config.worker.localLayout,
      log,
    });
    cleanups.push(() => procs.stop());
    log(`api: ${procs.apiUrl}`);
    // Every API call needs a key: the local operator gets an admin key on first start, kept in the CLI's credentials file.
    const admin = await ensureLocalAdminKey(db.url, config.cli.credentialsFile, procs.apiUrl, log);

    // The example, exactly as an operator would run it.
    log(`example: stackwire run ops.disk_report path=/ threshold=99 --region ${config.regions[0]}`);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        NODE,
        // path=/: scripts run as an unprivileged user, who may not enter the project's folder (e.g. under /root).
        [CLI_ENTRY, '--api', procs.apiUrl, 'run', 'ops.disk_report', 'path=/', 'threshold=99', '--region', config.regions[0]],
        { stdio: 'inherit', env },
      );
      child.on('exit', resolve);
    });
    log(code === 0 ? 'example: succeeded' : `example: ended with exit code ${code}`);

    // The example application's source of truth, and one deploy of it, so the Web UI shows a deploy.
    const cliRun = (args: string[]) =>
      new Promise<number | null>((resolve) => {
        spawn(NODE, [CLI_ENTRY, '--api', procs.apiUrl, ...args], { stdio: 'inherit', env }).on('exit', resolve);
      });
    log(`example: stackwire sot apply ${path.relative(PROJECT_ROOT, EXAMPLE_SOT)}`);
    await cliRun(['sot', 'apply', EXAMPLE_SOT]);
    const version = `1.0.${Math.floor(Date.now() / 1000) % 100000}`;
    log(`example: stackwire deploy status-page ${version} --env staging`);
    const deployed = await cliRun(['deploy', 'status-page', version, '--env', 'staging']);
    log(deployed === 0 ? 'example deploy: succeeded' : `example deploy: ended with exit code ${deployed}`);

    // An example pipeline (examples/pipelines): a fan-out over hosts, both regions, a sub-pipeline.
    const nightly = path.join(PROJECT_ROOT, 'examples', 'pipelines', 'nightly-maintenance.yml');
    log(`example: stackwire pipeline run ${path.relative(PROJECT_ROOT, nightly)} port=${config.api.port}`);
    const piped = await cliRun(['pipeline', 'run', nightly, `port=${config.api.port}`]);
    log(piped === 0 ? 'example pipeline: succeeded' : `example pipeline: ended with exit code ${piped}`);

    // The example rule (examples/rules): a firing alert on the `alerts` webhook starts a service check.
    const rules = path.join(PROJECT_ROOT, 'examples', 'rules');
    log(`example: stackwire rule apply ${path.relative(PROJECT_ROOT, rules)}`);
    await cliRun(['rule', 'apply', rules]);

    // The Web UI through the API: signed in, payloads decoded. A one-time link, as `stackwire ui` prints it.
    if (config.api.webUiUrl) await cliRun(['ui']);

    const regionsNote = config.regions.map((r) => `stackwire.${r}`).join(', ');
    process.stdout.write(
      [
        '',
        'Stackwire is ready.',
        `  API:            ${procs.apiUrl}`,
        `  Temporal:       ${address}${config.temporal.engine === 'server' && !config.temporal.address ? ' (full server on PostgreSQL)' : ''}`,
        ...(config.api.webUiUrl ? [`  Web UI:         ${procs.apiUrl}/ui/  (signed in, payloads decoded: \`npx stackwire ui\` prints a sign-in link)`] : []),
        `  Task queues:    ${regionsNote}, stackwire.orchestrator`,
        `  Database:       ${db.source}`,
        `  Metrics:        ${procs.apiUrl}/metrics (with an API key); workers: ${[...new Set(Object.values(procs.workerMetrics))]
          .map(
            (u) =>
              `${u}/metrics (${Object.keys(procs.workerMetrics)
                .filter((n) => procs.workerMetrics[n] === u)
                .join(', ')})`,
          )
          .join(', ')}`,
        `  Logs:           ${path.relative(PROJECT_ROOT, logDir)}/*.log (ECS JSON lines, one file per process)`,
        `  API key:        admin key ${admin.keyId}${admin.created ? ` (new: ${admin.key})` : ''} in ${config.cli.credentialsFile}`,
        '  Try:',
        `    npx stackwire --api ${procs.apiUrl} action list`,
        `    npx stackwire --api ${procs.apiUrl} run ops.service_check host=127.0.0.1 port=${config.api.port} --region ${config.regions[1] ?? config.regions[0]}`,
        `    npx stackwire --api ${procs.apiUrl} component deps web-ui`,
        `    npx stackwire --api ${procs.apiUrl} deploy status-page 2.0.0 --env production --approval 600`,
        `    npx stackwire --api ${procs.apiUrl} release --env staging --plan auth-service=2.1.0 api-gateway=3.0.0 web-ui=5.2.0`,
        `    npx stackwire --api ${procs.apiUrl} pipeline run examples/pipelines/status-page-deliver.yml version=2.1.0`,
        `    npx stackwire --api ${procs.apiUrl} rule test examples/rules/service-alert.yaml examples/rules/alert.json`,
        `    npx stackwire --api ${procs.apiUrl} webhook create alerts     (then POST the alert to it: README, Webhooks)`,
        '  Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    await stopped;
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`stackwire: configuration error: ${err.message}\n`);
    else process.stderr.write(`stackwire: start failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown();
    return 1;
  }
}

process.exitCode = await main();
