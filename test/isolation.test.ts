/**
 * Scripts isolated from Stackwire (README: Scripts isolated): what a script gets and cannot read, the
 * user it runs as, its own working folder, and the limits on git and path sources — through the API,
 * the Temporal client and worker processes started as an operator would.
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { WorkflowFailedError } from '@temporalio/client';
import { regionTaskQueue } from '../common/constants.js';
import { packIngest } from '../workflows/index.js';
import type { IngestRequest } from '../ingest/ingest.js';
import { GitError, git } from '../lib/git.js';
import { lookupUser } from '../lib/isolation.js';
import { fenceInPlace, fenceScript, nftBinary, stackFenceTargets } from '../lib/network-fence.js';
import { temporalAddress } from '../lib/config.js';
import { startService } from '../lib/services.js';
import { NODE, WORKER_ENTRY } from '../lib/paths.js';
import { alive, config, eventually, http, runViaApi, temporalClient, waitForEnd } from './helpers.js';

interface Probe {
  uid: number;
  euid: number;
  gid: number;
  groups: number[];
  cwd: string;
  script: string;
  env: Record<string, string>;
  reads: Record<string, { ok: boolean; content?: string; error?: string }>;
  lists: Record<string, { ok: boolean; entries?: string[]; error?: string }>;
  writes: Record<string, { ok: boolean; error?: string }>;
  own_folder_write: { ok: boolean; error?: string };
  proc: { readable_environs: number; leaks: string[] };
  credentials: string[];
  postgres_as_postgres_without_password: string;
}

const ROOT = process.getuid?.() === 0;
const runUser = config.isolation.runAs ? lookupUser(config.isolation.runAs) : undefined;

/** A folder every user may write in (the scripts under test run as another user). */
function sharedDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o777);
  return dir;
}

function processUid(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

test('a script gets a clean environment, an unprivileged user and a folder of its own, and cannot read the key, the data folder or the database URL', async (t) => {
  const dataDir = config.dataDir;
  const keyFile = path.join(dataDir, 'secret.key');
  // The test stack keeps its key where npm start does, with the same modes: the attempt below is real.
  t.true(fs.existsSync(keyFile), 'the test stack wrote its secret.key');
  t.is(fs.statSync(keyFile).mode & 0o777, 0o600);
  t.is(fs.statSync(dataDir).mode & 0o777, 0o700);
  const dbUrl = new URL(config.database.url!);
  const pgLogs = fs.readdirSync(dataDir).filter((f) => f.endsWith('.log'));
  // The workers' network fence for this stack (root workers with nftables, as in npm test): in place,
  // with all its rules, in the kernel's ruleset — read with the system's nft, not one found in PATH.
  const fenceUser = ROOT ? lookupUser('stackwire-run') : undefined;
  const fenceTargets = stackFenceTargets(config.database.url!, temporalAddress(config));
  if (fenceUser) {
    const inPlace = await fenceInPlace(fenceUser.uid, fenceTargets, config.scriptEnv);
    t.true(inPlace.ok, `the network fence: ${inPlace.problem ?? ''}`);
  }
  const { id, execution } = await runViaApi({
    action: 'testkit.probe',
    parameters: {
      read: [keyFile, ...pgLogs.map((f) => path.join(dataDir, f)), `/proc/${process.ppid}/environ`],
      list: [dataDir],
      write: [path.join(dataDir, 'planted'), path.join(config.isolation.runDir, 'packs', 'planted')],
      pg_host: dbUrl.hostname,
      pg_port: Number(dbUrl.port || 5432),
      pg_database: dbUrl.pathname.slice(1),
    },
  });
  t.is(execution.status, 'succeeded', execution.stderr);
  const p = JSON.parse(execution.stdout) as Probe;

  // Its environment: exactly the allow-list (LC_CTYPE is Python's own locale coercion, PEP 538).
  const allowed = [
    'PATH',
    'LANG',
    'TZ',
    'HOME',
    'TMPDIR',
    'STACKWIRE_EXECUTION_ID',
    'STACKWIRE_ACTION',
    'STACKWIRE_REGION',
    'STACKWIRE_ATTEMPT',
    'STACKWIRE_PACK_DIR',
    'PYTHONUNBUFFERED',
    'LC_CTYPE',
    'STACKWIRE_LIFELINE', // the no-orphans marker (lib/lifeline.ts): ids, no secret
  ];
  t.deepEqual(
    Object.keys(p.env).filter((k) => !allowed.includes(k)),
    [],
    'nothing of the worker environment beyond the allow-list',
  );
  t.is(p.env.STACKWIRE_EXECUTION_ID, id);
  t.is(p.env.STACKWIRE_ACTION, 'testkit.probe');
  t.is(p.env.STACKWIRE_REGION, 'us-east');
  t.is(p.env.STACKWIRE_ATTEMPT, '1');

  // No secret of the worker anywhere in what it printed or logged.
  const text = execution.stdout + execution.stderr;
  const secrets = {
    STACKWIRE_SECRET_KEY: process.env.STACKWIRE_SECRET_KEY,
    DATABASE_URL: process.env.DATABASE_URL,
    SENSU_API_KEY: process.env.SENSU_API_KEY,
    STACKWIRE_API_KEY: process.env.STACKWIRE_API_KEY,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
  };
  t.truthy(secrets.STACKWIRE_SECRET_KEY);
  t.truthy(secrets.DATABASE_URL);
  for (const [name, value] of Object.entries(secrets)) if (value) t.false(text.includes(value), `${name} must not reach the script`);
  t.deepEqual(p.credentials, [], 'no database credentials in its environment or in any file it can read');
  // Other stacks on this machine (other checkouts' test runs) are not ours to judge: only this stack's secrets count.
  const ours = p.proc.leaks.filter((l) => Object.values(secrets).some((v) => v && l.includes(v)));
  t.deepEqual(ours, [], "no other process's environment or command line gives this stack's secrets away");
  if (p.proc.leaks.length) t.log(`readable elsewhere on this machine (not this stack's): ${p.proc.leaks.length} process(es)`);
  // Even where Postgres trusts local connections (this machine's does), the run user cannot open one:
  // the worker's nftables fence resets its connections to the database (and to Temporal).
  if (fenceUser) t.regex(p.postgres_as_postgres_without_password, /^no connection/, `Postgres at ${dbUrl.host}: ${p.postgres_as_postgres_without_password}`);
  else t.log(`not root: scripts run as this user and are not fenced; Postgres at ${dbUrl.host}: ${p.postgres_as_postgres_without_password}`);
  if (fenceUser) {
    // A host tool that resets the firewall (here: the table deleted) does not leave scripts unfenced for long.
    const { table } = await fenceScript(fenceUser.uid, fenceTargets);
    t.is(spawnSync(nftBinary()!, ['delete', 'table', 'inet', table]).status, 0);
    await eventually(
      async () => (await fenceInPlace(fenceUser.uid, fenceTargets, config.scriptEnv)).ok || undefined,
      `the workers to put back ${table}`,
      30_000,
    );
  }

  // The data folder and the key: not readable, not listable, not writable.
  t.false(p.reads[keyFile].ok, 'secret.key is not readable');
  t.regex(p.reads[keyFile].error ?? '', /Permission/);
  t.false(p.lists[dataDir].ok, 'the data folder cannot be listed');
  t.false(p.writes[path.join(dataDir, 'planted')].ok);
  t.false(p.reads[`/proc/${process.ppid}/environ`].ok, "the test runner's environment is not readable");

  // Its pack files: readable (it ran), not writable.
  t.true(p.script.startsWith(path.join(config.isolation.runDir, 'packs') + path.sep), p.script);
  t.false(p.writes[path.join(config.isolation.runDir, 'packs', 'planted')].ok, 'the packs folder is not writable');
  t.false(fs.existsSync(path.join(config.isolation.runDir, 'packs', 'planted')));
  const st = fs.statSync(p.script);
  t.is(st.uid, process.getuid!(), 'pack files belong to the worker user');
  t.is(st.mode & 0o777, 0o755);

  // Who it ran as, and where.
  if (ROOT) {
    t.truthy(runUser, 'npm test created the run user');
    t.is(p.uid, runUser!.uid);
    t.is(p.euid, runUser!.uid);
    t.is(p.gid, runUser!.gid);
    t.deepEqual(p.groups, [], "root's supplementary groups are dropped");
  }
  t.not(p.uid, 0);
  t.true(p.cwd.startsWith(path.join(config.isolation.runDir, 'work') + path.sep), p.cwd);
  t.not(p.cwd, path.dirname(path.dirname(p.script)), 'the cwd is not the pack folder');
  t.is(p.env.HOME, path.join(p.cwd, 'home'));
  t.is(p.env.TMPDIR, path.join(p.cwd, 'tmp'));
  t.true(p.own_folder_write.ok, 'it may write in its own folder');
  t.false(fs.existsSync(p.cwd), 'the working folder is removed after the run');
});

test('a cancelled script that runs as the run user is killed with its whole process group', async (t) => {
  const dir = sharedDir('stackwire-iso-cancel-');
  const pidfile = path.join(dir, 'pids');
  const started = await http<{ id: string }>('POST', '/api/v1/executions', { action: 'testkit.sleep', parameters: { pidfile, seconds: 300 } });
  t.is(started.status, 202);
  const pids = await eventually(
    () =>
      fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim().includes(' ')
        ? fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number)
        : undefined,
    'the script to write its pids',
    60_000,
  );
  if (ROOT) for (const pid of pids) t.is(processUid(pid), runUser!.uid, 'the script and its child run as the run user');
  const cancel = await http('POST', `/api/v1/executions/${started.body.id}/cancel`);
  t.is(cancel.status, 202);
  const execution = await waitForEnd(started.body.id);
  t.is(execution.status, 'cancelled');
  await eventually(() => pids.every((pid) => !alive(pid)), 'the process group to be gone', 10_000);
});

test('path ingest on a worker reads only the folders of STACKWIRE_INGEST_PATHS, symbolic links resolved', async (t) => {
  const [allowed] = config.ingestPaths;
  t.truthy(allowed, 'the test stack sets STACKWIRE_INGEST_PATHS');
  const pack = `isopath_${crypto.randomBytes(3).toString('hex')}`;
  const inside = path.join(allowed, pack);
  fs.mkdirSync(inside);
  fs.writeFileSync(path.join(inside, 'hello.sh'), '#!/bin/bash\n# Say hello.\necho hello\n');
  const ok = await runViaApi({ action: 'core.ingest', parameters: { source: inside, pack, mode: 'dry-run' } });
  t.is(ok.execution.status, 'succeeded', ok.execution.stderr);
  t.is((JSON.parse(ok.execution.stdout) as { summary: { added: number } }).summary.added, 1);

  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-iso-outside-'));
  fs.writeFileSync(path.join(outside, 'hello.sh'), '#!/bin/bash\necho hello\n');
  const refused = await runViaApi({ action: 'core.ingest', parameters: { source: outside, pack, mode: 'dry-run' } });
  t.is(refused.execution.status, 'failed');
  t.regex(refused.execution.stderr, /is not inside a folder listed in STACKWIRE_INGEST_PATHS/);

  // A link inside the allowed folder that points out of it does not widen it.
  const link = path.join(allowed, `${pack}-link`);
  fs.symlinkSync(outside, link);
  const viaLink = await runViaApi({ action: 'core.ingest', parameters: { source: link, pack, mode: 'dry-run' } });
  t.is(viaLink.execution.status, 'failed');
  t.regex(viaLink.execution.stderr, /is not inside a folder listed in STACKWIRE_INGEST_PATHS/);
  const dotdot = await runViaApi({ action: 'core.ingest', parameters: { source: path.join(allowed, '..'), pack, mode: 'dry-run' } });
  t.is(dotdot.execution.status, 'failed');
  t.regex(dotdot.execution.stderr, /STACKWIRE_INGEST_PATHS/);
});

test('a worker without STACKWIRE_GIT_ALLOW_FILE refuses file:// and local repositories, hosts off the allow-list and other protocols; git itself refuses them too', async (t) => {
  // A worker of its own, for a region only it serves, with the operator's defaults for git.
  const region = `gitoff-${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-gitoff-'));
  const env: NodeJS.ProcessEnv = { ...process.env, STACKWIRE_REGIONS: region, STACKWIRE_GIT_ALLOWED_HOSTS: 'git.example.com' };
  delete env.STACKWIRE_GIT_ALLOW_FILE;
  const worker = await startService({
    name: region,
    command: NODE,
    args: [WORKER_ENTRY, '--region', region],
    env,
    ready: /worker ready/,
    readyTimeoutMs: 180_000, // a loaded machine
    output: path.join(dir, 'worker.log'),
  });
  try {
    const repo = path.join(dir, 'repo');
    fs.mkdirSync(repo);
    const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(repo, 'hello.sh'), '#!/bin/bash\necho hello\n');
    git('add', '-A');
    git('commit', '-qm', 'one');
    const client = await temporalClient();
    const ingest = async (url: string): Promise<string> => {
      const req: IngestRequest = { pack: 'gitoff', mode: 'dry-run', source: { kind: 'git', url } };
      const err = await t.throwsAsync(
        client.workflow.execute(packIngest, {
          taskQueue: regionTaskQueue(region),
          workflowId: `gitoff-${crypto.randomBytes(4).toString('hex')}`,
          args: [req],
        }),
      );
      t.true(err instanceof WorkflowFailedError);
      return ((err as WorkflowFailedError).cause?.cause as Error | undefined)?.message ?? '';
    };
    t.regex(await ingest(`file://${repo}`), /refused: use an https:\/\/ or ssh:\/\/ URL, or set STACKWIRE_GIT_ALLOW_FILE=true/);
    t.regex(await ingest(repo), /STACKWIRE_GIT_ALLOW_FILE=true/);
    t.regex(await ingest('https://github.com/example/repo.git'), /host github\.com is not in STACKWIRE_GIT_ALLOWED_HOSTS \(git\.example\.com\)/);
    t.regex(await ingest('git@github.com:example/repo.git'), /host github\.com is not in STACKWIRE_GIT_ALLOWED_HOSTS/);
    t.regex(await ingest('git://git.example.com/repo.git'), /git:\/\/ is not allowed/);
    t.regex(await ingest('ext::sh'), /remote helpers/);
    t.regex(await ingest('https://user:token@git.example.com/repo.git'), /password or token/);

    // The same repository is fine on the suite's workers, which allow file:// (STACKWIRE_GIT_ALLOW_FILE=true).
    const ok = await runViaApi({
      action: 'core.ingest',
      parameters: { source: `file://${repo}`, pack: `gitok_${crypto.randomBytes(3).toString('hex')}`, mode: 'dry-run' },
    });
    t.is(ok.execution.status, 'succeeded', ok.execution.stderr);
  } finally {
    await worker.stop(5000);
  }
});

test('git itself holds to the policy: with GIT_ALLOW_PROTOCOL from the worker, a file:// clone is refused by git', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-gitproto-'));
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(repo);
  spawnSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
  spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', 'commit', '-q', '--allow-empty', '-m', 'x'], { cwd: repo });
  fs.mkdirSync(path.join(dir, 'home'));
  const ctx = (allowFile: boolean) => ({
    policy: { allowedHosts: [], allowFile, timeoutSeconds: 60 },
    baseEnv: config.scriptEnv,
    home: path.join(dir, 'home'),
  });
  // Straight to git, past the URL check: git's own gate.
  const err = await t.throwsAsync(git(ctx(false), ['clone', '--quiet', '--', `file://${repo}`, path.join(dir, 'a')]));
  t.true(err instanceof GitError);
  t.regex(err?.message ?? '', /transport 'file' not allowed/);
  await t.notThrowsAsync(git(ctx(true), ['clone', '--quiet', '--', `file://${repo}`, path.join(dir, 'b')]));
});

test('a configured run user that does not exist stops the worker at start with a clear message', async (t) => {
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(NODE, [WORKER_ENTRY, '--region', 'us-east'], {
      env: { ...process.env, STACKWIRE_RUN_AS: 'no-such-user-sw' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.is(r.code, 1);
  t.regex(r.stderr, /configuration error: STACKWIRE_RUN_AS=no-such-user-sw: there is no such user on this machine\. Create it \(useradd/);
});

test('bad isolation settings name the variable', async (t) => {
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(NODE, [WORKER_ENTRY, '--region', 'us-east'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
  const paths = await run({ STACKWIRE_INGEST_PATHS: 'packs' });
  t.is(paths.code, 1);
  t.regex(paths.stderr, /STACKWIRE_INGEST_PATHS: "packs" is not an absolute path/);
  const allowFile = await run({ STACKWIRE_GIT_ALLOW_FILE: 'maybe' });
  t.regex(allowFile.stderr, /STACKWIRE_GIT_ALLOW_FILE="maybe" is not true or false/);
  const hosts = await run({ STACKWIRE_GIT_ALLOWED_HOSTS: 'https://github.com' });
  t.regex(hosts.stderr, /STACKWIRE_GIT_ALLOWED_HOSTS: "https:\/\/github.com" is not a host name/);
  const runDir = await run({ STACKWIRE_RUN_DIR: path.join(config.dataDir, 'run') });
  t.regex(runDir.stderr, /STACKWIRE_RUN_DIR=.* is inside the data folder/);
  if (ROOT && (fs.statSync('/root').mode & 0o001) === 0) {
    const unreachable = await run({ STACKWIRE_RUN_DIR: '/root/stackwire-run-test/run' });
    t.is(unreachable.code, 1);
    t.regex(unreachable.stderr, /STACKWIRE_RUN_DIR=\/root\/stackwire-run-test\/run: the run user stackwire-run cannot enter \/root/);
    t.false(fs.existsSync('/root/stackwire-run-test'), 'nothing was created');
  }
});
