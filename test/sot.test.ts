/** The source of truth: `stackwire sot apply` and the component commands/endpoints, against real Postgres. */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http_ from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { sign as signWebhook } from '@octokit/webhooks-methods';
import { PROJECT_ROOT } from '../lib/config.js';
import { SensuClient, SensuError } from '../lib/sensu.js';
import { startDockerStub } from './docker-stub.js';
import { startVsphereStub } from './vsphere-stub.js';
import { startSshd } from './sshd.js';
import { startLibvirtd } from './libvirtd.js';
import YAML from 'yaml';
import {
  alive,
  as,
  cli,
  config,
  dbPool,
  decodedHistoryText,
  eventually,
  gone,
  historyText,
  http,
  makeKey,
  pipelineRunEnded,
  recordFixture,
  recordNewestFixture,
  regionWorker,
  settledCount,
  temporalClient,
  uniqueName,
} from './helpers.js';
import { SearchAttributes } from '../common/constants.js';
import { approveUpdate } from '../workflows/definitions.js';
import { githubPush } from '../workflows/index.js';
import type { DeliveryMetricsResponse, DeploymentListResponse, TraceResponse } from '../common/api-types.js';

const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'sot', 'collab-platform.yaml');
const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'sot');
const pool = dbPool();
test.after.always(async () => {
  await pool.end();
});

async function counts(): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ c: number; d: number; p: number }>(
    'SELECT (SELECT count(*)::int FROM components) c, (SELECT count(*)::int FROM dependencies) d, (SELECT count(*)::int FROM placements) p',
  );
  return { components: rows[0].c, dependencies: rows[0].d, placements: rows[0].p };
}

// The source of truth is one desired state per database: these tests take turns.
test.serial('a cycle is rejected with the cycle named, and nothing is applied', async (t) => {
  const before = await counts();
  const r = await cli(['sot', 'apply', path.join(FIXTURES, 'cycle.yaml')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /cycle\.yaml:\d+:\d+: dependency cycle: api → db → cache → api/);
  t.deepEqual(await counts(), before);
});

test.serial('every problem is reported with file, line and column before anything is applied', async (t) => {
  const r = await cli(['sot', 'apply', path.join(FIXTURES, 'broken.yaml')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /broken\.yaml:8:15: component api: platform "mainframe" is not one of bare-metal, kvm, vsphere, docker/);
  t.regex(r.stderr, /broken\.yaml:9:18: component api depends on "database", which is not defined/);
  t.regex(r.stderr, /broken\.yaml:11:26: component api is placed \(staging\) in region "ap-south", which is not defined; known regions: us-east/);
  t.regex(r.stderr, /broken\.yaml:12:7: component api is placed in environment "qa", which is not defined; known environments: staging/);
  t.regex(r.stderr, /broken\.yaml:13:11: component api is defined twice \(first at .*broken\.yaml:6:11\)/);
  const api = await http<{ error: { code: string; details: { line: number }[] } }>('POST', '/api/v1/sot/apply', {
    files: [{ path: 'x.yaml', content: 'components: [' }],
  });
  t.is(api.status, 400);
  t.is(api.body.error.code, 'invalid_definitions');
  t.is(api.body.error.details[0].line, 1);
  // A YAML syntax error deeper in a file is located where it is, not at 1:1.
  const badIndent = await http<{ error: { details: { line: number; column: number; message: string }[] } }>('POST', '/api/v1/sot/apply', {
    files: [{ path: 'indent.yaml', content: 'environments:\n  - name: staging\nregions:\n  - name: us-east\n   - name: eu-west\n' }],
  });
  t.is(badIndent.status, 400);
  t.is(badIndent.body.error.details[0].line, 5, JSON.stringify(badIndent.body.error.details));
  // Field types, duplicates inside a component, and empty placements are problems with positions too.
  const fields = [
    'environments: [{name: staging}]',
    'regions: [{name: us-east}]',
    'components:',
    '  - {name: base, repository: r, platform: kvm}',
    '  - name: app',
    '    repository: r',
    '    platform: kvm',
    '    depends_on: [base, base]',
    '    hiera: [1, 2]',
    '    deploy_params: "x"',
    '    actions: {deploy: 42, undeploy: ops.x}',
    '    placements: {staging: [us-east, us-east]}',
    '    checks:',
    '      - {name: up, command: check_tcp, timeout: soon}',
    '      - {name: up, command: check_tcp}',
    '',
  ].join('\n');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sot-fields-')), 'fields.yaml');
  fs.writeFileSync(file, fields);
  const typed = await cli(['sot', 'apply', file]);
  t.is(typed.code, 2, typed.stdout);
  for (const want of [
    /:8:24: component app: depends_on lists base twice/,
    /:9:12: component app: hiera must be a mapping/,
    /:10:20: component app: deploy_params must be a mapping/,
    /:11:15: component app: actions\.deploy must be an action name/,
    /:11:27: component app: actions\.undeploy is not known/,
    /:12:37: component app: placements\.staging lists us-east twice/,
    /:14:\d+: component app: check up: timeout is whole seconds/,
    /:15:\d+: component app: two checks are named up/,
  ])
    t.regex(typed.stderr, want);
});

test.serial('the 28-component example applies in one transaction; a dry run and a re-apply change nothing', async (t) => {
  const dry = await cli(['sot', 'apply', EXAMPLE, '--dry-run', '--json']);
  t.is(dry.code, 0, dry.stderr);
  const dryReport = JSON.parse(dry.stdout) as { dryRun: boolean; summary: { components: number; added: number } };
  t.true(dryReport.dryRun);
  t.is(dryReport.summary.components, 28);
  const applied = await cli(['sot', 'apply', EXAMPLE]);
  t.is(applied.code, 0, applied.stderr);
  t.regex(applied.stdout, /28 components, 2 environments, 2 regions/);
  const c = await counts();
  t.is(c.components, 28);
  t.true(c.dependencies >= 40);
  const again = await cli(['sot', 'apply', EXAMPLE, '--json']);
  t.deepEqual((JSON.parse(again.stdout) as { changes: unknown[] }).changes, [], 'idempotent');

  // A change shows as a diff; a component left out of the files is removed.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-'));
  const edited = fs
    .readFileSync(EXAMPLE, 'utf8')
    .replace('owner: identity-team\n    puppet_role: role::auth_service', 'owner: security-team\n    puppet_role: role::auth_service');
  const withoutBilling = edited.slice(0, edited.indexOf('  - name: billing-service'));
  fs.writeFileSync(path.join(dir, 'platform.yaml'), withoutBilling);
  const diff = await cli(['sot', 'apply', dir, '--json']);
  t.is(diff.code, 0, diff.stderr);
  t.deepEqual((JSON.parse(diff.stdout) as { changes: unknown[] }).changes, [
    { kind: 'component', name: 'auth-service', change: 'changed', details: ['owner changed'] },
    { kind: 'component', name: 'billing-service', change: 'removed' },
  ]);
  t.is((await cli(['sot', 'apply', EXAMPLE])).code, 0);
});

test.serial('components are listed and shown with dependencies both ways', async (t) => {
  t.is((await cli(['sot', 'apply', EXAMPLE])).code, 0);
  const list = await http<{ components: { name: string }[] }>('GET', '/api/v1/components');
  t.is(list.body.components.length, 28);
  const gw = await http<{ platform: string; dependsOn: string[]; placements: Record<string, string[]>; checks: { command: string }[]; puppetRole: string }>(
    'GET',
    '/api/v1/components/api-gateway',
  );
  t.is(gw.body.platform, 'vsphere');
  t.deepEqual(gw.body.placements, { production: ['us-east', 'eu-west'], staging: ['us-east'] });
  t.is(gw.body.puppetRole, 'role::api_gateway');
  t.regex(gw.body.checks[0].command, /^check_tcp -H 127\.0\.0\.1 -p 443/);
  const deps = await cli(['component', 'deps', 'web-ui', '--json']);
  const d = JSON.parse(deps.stdout) as { direct: string[]; transitive: string[] };
  t.deepEqual(d.direct, ['api-gateway']);
  t.true(d.transitive.includes('postgres') && d.transitive.includes('auth-service'));
  const rev = await cli(['component', 'deps', 'postgres', '--reverse']);
  t.regex(rev.stdout, /postgres is needed by: auth-service, billing-service, calendar-service, chat-service, user-directory/);
  t.regex(rev.stdout, /transitively: .*web-ui/);
  const show = await cli(['component', 'show', 'media-server']);
  t.regex(show.stdout, /media-server \(bare-metal, owner media-team\)/);
  t.regex(show.stdout, /depends on:\s+signaling-server, turn-server/);
  const missing = await cli(['component', 'show', 'nope']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no component named "nope"/);
  const table = await cli(['component', 'list']);
  t.regex(table.stdout, /web-ui\s+docker\s+frontend-team\s+api-gateway/);
});

// ---------------------------------------------------------------------------------------------
// Deploys: real Temporal workflows on the regional workers, real `puppet apply`, real check_http
// against a loopback service this test runs (it answers 500 for versions containing "bad", and for
// versions containing "slow" during the first 6 seconds after it was first asked about them).

let healthPort = 0;
const firstAsked = new Map<string, number>();
const healthServer = http_.createServer((req, res) => {
  const version = new URL(req.url ?? '/', 'http://x').searchParams.get('version') ?? '';
  if (!firstAsked.has(version)) firstAsked.set(version, Date.now());
  const bad = version.includes('bad') || (version.includes('slow') && Date.now() - firstAsked.get(version)! < 6000);
  res.writeHead(bad ? 500 : 200, { 'content-type': 'text/plain' });
  res.end(bad ? 'broken build\n' : `ok ${version}\n`);
});
test.before(async () => {
  await new Promise<void>((resolve) => healthServer.listen(0, '127.0.0.1', resolve));
  healthPort = (healthServer.address() as AddressInfo).port;
});
test.after.always(() => {
  healthServer.close();
});

/** A secret deploy parameter (deploykit.deploy_artifact declares registry_token secret). */
const REGISTRY_TOKEN = `regtok-${Math.random().toString(36).slice(2, 12)}`;
/** A Hiera value (Hiera is where Puppet users keep passwords): ciphertext in workflow history, like every payload. */
const HIERA_SECRET = `hierapw-${Math.random().toString(36).slice(2, 12)}`;

function deployComponents(only?: string[], repos: Record<string, string> = {}): string {
  const comp = (name: string, deps: string[]) =>
    [
      `  - name: ${name}`,
      `    repository: ${repos[name] ?? `https://ghe.example.com/test/${name}.git`}`,
      '    platform: docker',
      `    puppet_role: role::${name.replace(/-/g, '_')}`,
      '    hiera:',
      `      ${name.replace(/-/g, '_')}::port: ${healthPort}`,
      `      ${name.replace(/-/g, '_')}::db_password: ${HIERA_SECRET}`,
      ...(deps.length ? [`    depends_on: [${deps.join(', ')}]`] : []),
      '    checks:',
      `      - name: ${name}-http`,
      `        command: check_http -H 127.0.0.1 -p ${healthPort} -u '/health?version={version}' -t 5`,
      '        timeout: 10',
      '    deploy_params:',
      `      artifact: ${name}-bundle`,
      `      registry_token: ${REGISTRY_TOKEN}`,
      '    actions:',
      '      deploy: deploykit.deploy_artifact',
      '    placements:',
      '      production: [us-east, eu-west]',
      '      vault: [us-east]',
    ].join('\n');
  const all: [string, string[]][] = [
    ['hello-api', []],
    ['rt-db', []],
    ['rt-cache', []],
    ['rt-api', ['rt-db', 'rt-cache']],
    ['rt-web', ['rt-api']],
  ];
  // `vault` is a protected environment: deployer role, and a gate someone else must approve.
  return `environments:\n  - name: vault\n    description: protected (four eyes)\n    protected: true\ncomponents:\n${all
    .filter(([n]) => !only || only.includes(n))
    .map(([n, d]) => comp(n, d))
    .join('\n')}\n`;
}

async function applyWithDeployComponents(t: ExecutionContext): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-deploy-'));
  fs.copyFileSync(EXAMPLE, path.join(dir, 'a-platform.yaml'));
  fs.writeFileSync(path.join(dir, 'b-deploy-tests.yaml'), deployComponents());
  const r = await cli(['sot', 'apply', dir]);
  t.is(r.code, 0, r.stderr);
}

/** The example and the deploy tests' components, plus one more file of components (a platform test's). */
async function applyWithExtra(t: ExecutionContext, extra: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-extra-'));
  fs.copyFileSync(EXAMPLE, path.join(dir, 'a-platform.yaml'));
  fs.writeFileSync(path.join(dir, 'b-deploy-tests.yaml'), deployComponents());
  fs.writeFileSync(path.join(dir, 'c-extra.yaml'), extra);
  const r = await cli(['sot', 'apply', dir]);
  t.is(r.code, 0, r.stderr);
}

/** Deploys these versions one after another, each to success; the results. */
async function deployAll(t: ExecutionContext, component: string, versions: string[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const version of versions) {
    const r = await deploy({ component, version });
    t.is(r.status, 202, JSON.stringify(r.body));
    const o = await outcome(r.body.id);
    t.true(o.ok, o.error);
    out.push(o.result ?? {});
  }
  return out;
}

const FAST_HEALTH = { timeoutSeconds: 2, intervalSeconds: 1 };

async function deploy(
  body: Record<string, unknown>,
): Promise<{ status: number; body: { id: string; deploymentId: string; waves: string[][]; error?: { code: string; message: string } } }> {
  return http('POST', '/api/v1/deployments', { environment: 'production', health: FAST_HEALTH, ...body }, as(await releaseManagerKey()));
}

let rmKey: Promise<string> | undefined;
/** The deploys of these tests are requested by a deployer key of `release-manager`. */
function releaseManagerKey(): Promise<string> {
  rmKey ??= makeKey({ name: 'release-manager', role: 'deployer' }).then((k) => k.key);
  return rmKey;
}

async function outcome(id: string): Promise<{ ok: boolean; result?: Record<string, unknown>; error?: string }> {
  const handle = (await temporalClient()).workflow.getHandle(id);
  try {
    return { ok: true, result: (await handle.result()) as Record<string, unknown> };
  } catch (e) {
    const err = e as Error & { cause?: Error & { details?: unknown[] } };
    return { ok: false, error: err.cause?.message ?? err.message };
  }
}

async function records(component: string): Promise<
  {
    region: string;
    kind: string;
    version: string;
    status: string;
    reason: string | null;
    puppet: { changed: number; exitCode: number } | null;
    started_at: Date;
    finished_at: Date;
  }[]
> {
  const { rows } = await pool.query(
    'SELECT region, kind, version, status, reason, puppet_summary AS puppet, started_at, finished_at FROM deployments WHERE component = $1 ORDER BY started_at',
    [component],
  );
  return rows as never;
}

test.serial('a two-region deploy rolls out in waves (canary first), runs puppet apply and checks, and records each region', async (t) => {
  await applyWithDeployComponents(t);
  const r = await deploy({ component: 'hello-api', version: '1.0.0' });
  t.is(r.status, 202, JSON.stringify(r.body));
  t.deepEqual(r.body.waves, [['us-east'], ['eu-west']]);
  const o = await outcome(r.body.id);
  t.true(o.ok, o.error);
  const recs = await records('hello-api');
  t.deepEqual(
    recs.map((x) => [x.region, x.kind, x.version, x.status]),
    [
      ['us-east', 'deploy', '1.0.0', 'succeeded'],
      ['eu-west', 'deploy', '1.0.0', 'succeeded'],
    ],
  );
  t.true(recs[1].started_at >= recs[0].finished_at, 'eu-west starts after the canary finished');
  for (const x of recs) {
    t.is(x.puppet?.exitCode, 2, 'puppet changed something (detailed exit code 2)');
    t.true((x.puppet?.changed ?? 0) >= 1);
  }
  // What Puppet manages, from the source of truth's Hiera data.
  const managed = fs.readFileSync(path.join(config.dataDir, 'deployments', 'production', 'eu-west', 'hello-api', 'config.yaml'), 'utf8');
  t.regex(managed, /version: 1\.0\.0/);
  t.regex(managed, new RegExp(`hello_api::port: ${healthPort}`));
  // The role class came from the operator's modules (STACKWIRE_PUPPET_MODULEPATH): only it writes this file.
  t.is(fs.readFileSync(path.join(config.dataDir, 'deployments', 'production', 'eu-west', 'hello-api', 'port'), 'utf8'), `${healthPort}\n`);
  const list = await cli(['deployment', 'list', '--component', 'hello-api', '--json']);
  t.is((JSON.parse(list.stdout) as unknown[]).length, 2);
  // Sensu (a STUB of its API, see test/sensu-stub.ts) was told: silence, check result, unsilence — per region.
  const sensuLog = (await (await fetch(`${process.env.STACKWIRE_TEST_SENSU_URL}/_stub/requests`)).json()) as {
    method: string;
    path: string;
    body: { check?: { metadata: { name: string }; status: number }; entity?: { metadata: { name: string } } };
  }[];
  for (const region of ['us-east', 'eu-west']) {
    const name = encodeURIComponent(`entity:hello-api-production-${region}:hello-api-http`);
    const mine = sensuLog.filter((x) => x.path.endsWith(name) || x.body?.entity?.metadata.name === `hello-api-production-${region}`);
    t.deepEqual(
      mine.map((x) => x.method),
      ['PUT', 'POST', 'DELETE'],
      `${region}: silence → event → unsilence`,
    );
    t.is(mine[1].body.check?.status, 0);
  }
  // The secret deploy parameter reached the script, but not history, the execution records or the component API.
  const client = await temporalClient();
  const { rows: actionRuns } = await pool.query<{ id: string; stdout: string; parameters: unknown }>(
    "SELECT id, stdout, parameters FROM executions WHERE action = 'deploykit.deploy_artifact' AND workflow_id LIKE $1",
    [`${r.body.id}%`],
  );
  t.true(actionRuns.length >= 2, 'a deploy action run per region');
  for (const run of actionRuns) {
    t.regex(run.stdout, new RegExp(`with a registry token of ${REGISTRY_TOKEN.length} characters`), 'the script got the clear value');
    t.false(JSON.stringify(run).includes(REGISTRY_TOKEN));
  }
  const { rows: legs } = await pool.query<{ workflow_id: string; run_id: string }>(
    "SELECT workflow_id, run_id FROM deployments WHERE component = 'hello-api' AND version = '1.0.0'",
  );
  let histories = 0;
  for (const w of [{ workflow_id: r.body.id, run_id: undefined }, ...legs]) {
    const h = await client.workflow.getHandle(w.workflow_id, w.run_id).fetchHistory();
    // As stored by Temporal: every payload is ciphertext (lib/payload-codec.ts) — Hiera data, deploy parameters, all of it.
    const raw = historyText(h);
    for (const clear of [REGISTRY_TOKEN, HIERA_SECRET, 'hello-api-bundle', 'hello_api::port'])
      t.false(raw.includes(clear), `${w.workflow_id}: ${clear} is not in clear in history`);
    // Decrypted with the stack's key (as the Web UI does through the codec endpoint): the plain values are there, the secret stays sealed.
    const text = await decodedHistoryText(h);
    t.true(text.includes('hello-api-bundle') && text.includes(HIERA_SECRET), 'payloads were decoded');
    t.false(text.includes(REGISTRY_TOKEN), `${w.workflow_id}: no clear registry token in history`);
    histories++;
  }
  t.is(histories, 3, 'the deploy and its two region legs');
  const shown = await http<{ deployParams: Record<string, string> }>('GET', '/api/v1/components/hello-api');
  t.is(shown.body.deployParams.registry_token, '********');
  t.is(shown.body.deployParams.artifact, 'hello-api-bundle');
  // Searchable by component and version in Temporal.
  // Visibility is indexed asynchronously: give it a moment.
  t.true(
    await eventually(
      async () => (await client.workflow.count(`Component = "hello-api" AND Version = "1.0.0" AND Env = "production"`)).count >= 3,
      'the deploy and its two region legs, searchable by component, version and environment',
    ),
  );
});

test.serial('a failing health check rolls back to the previous version and leaves both records', async (t) => {
  const sensuRequests = async () =>
    (await (await fetch(`${process.env.STACKWIRE_TEST_SENSU_URL}/_stub/requests`)).json()) as {
      method: string;
      path: string;
      body: { entity?: { metadata: { name: string } } };
    }[];
  const sensuBefore = (await sensuRequests()).length;
  const r = await deploy({ component: 'hello-api', version: '2.0.0-bad' });
  t.is(r.status, 202);
  const o = await outcome(r.body.id);
  t.false(o.ok);
  t.regex(o.error ?? '', /health checks failed in us-east: not healthy within 2s \(\d+ attempts\): hello-api-http: HTTP CRITICAL/);
  t.regex(o.error ?? '', /rolled back us-east to 1\.0\.0/);
  const recs = (await records('hello-api')).slice(2);
  t.deepEqual(
    recs.map((x) => [x.region, x.kind, x.version, x.status]),
    [
      ['us-east', 'deploy', '2.0.0-bad', 'failed'],
      ['us-east', 'rollback', '1.0.0', 'succeeded'],
    ],
  );
  t.regex(recs[0].reason ?? '', /health checks failed in us-east/);
  t.false(
    fs.readFileSync(path.join(config.dataDir, 'deployments', 'production', 'us-east', 'hello-api', 'config.yaml'), 'utf8').includes('2.0.0-bad'),
    'puppet put the previous version back',
  );
  // The failing leg leaves its silence to the rollback, which lifts it at its end: nothing pages in between.
  const name = encodeURIComponent('entity:hello-api-production-us-east:hello-api-http');
  const seq = (await sensuRequests())
    .slice(sensuBefore)
    .filter((x) => x.path.endsWith(name) || x.body?.entity?.metadata.name === 'hello-api-production-us-east')
    .map((x) => x.method);
  t.is(seq[0], 'PUT', JSON.stringify(seq));
  t.deepEqual(
    seq.filter((m) => m === 'DELETE'),
    ['DELETE'],
    `one unsilence, by the rollback: ${JSON.stringify(seq)}`,
  );
  t.is(seq[seq.length - 1], 'DELETE');
});

test.serial('an approval gate waits between waves, proceeds on approval, and fails on its deadline', async (t) => {
  const r = await deploy({ component: 'hello-api', version: '1.1.0', approvalTimeoutSeconds: 120 });
  t.is(r.status, 202);
  // While the canary runs no gate is open: the workflow's update validator refuses a decision, so
  // nobody can approve a wave in advance.
  const early = await t.throwsAsync((await temporalClient()).workflow.getHandle(r.body.id).executeUpdate(approveUpdate, { args: [{ actor: 'too-early' }] }));
  t.true(early instanceof WorkflowUpdateFailedError, String(early));
  const waiting = await eventually(
    async () => {
      const d = await http<{ detail: { awaitingApproval: boolean; done: string[] } | null }>('GET', `/api/v1/deployments/${r.body.id}`);
      return d.body.detail?.awaitingApproval ? d.body.detail : undefined;
    },
    'the gate',
    60_000,
  );
  t.deepEqual(waiting.done, ['us-east'], 'the canary went first');
  // A second deploy of the same component and environment is refused while this one runs.
  const second = await deploy({ component: 'hello-api', version: '1.1.1' });
  t.is(second.status, 409);
  t.is(second.body.error?.code, 'deploy_in_progress');
  // The approver is the owner of the key that approved (a header naming someone else is ignored).
  const cabChair = await makeKey({ name: 'cab-chair', role: 'operator' });
  const approve = await http('POST', `/api/v1/deployments/${r.body.id}/approve`, {}, { ...as(cabChair.key), 'x-stackwire-actor': 'mallory' });
  t.is(approve.status, 202, JSON.stringify(approve.body));
  const again = await cli(['deployment', 'approve', r.body.id]);
  t.not(again.code, 0, 'a gate is decided once');
  t.regex(again.stderr, /not waiting at an approval gate|not running/);
  const o = await outcome(r.body.id);
  t.true(o.ok, o.error);
  t.is(o.result?.approvedBy, 'cab-chair');
  const { rows: approvals } = await pool.query<{ region: string; approved_by: string | null }>(
    "SELECT region, approved_by FROM deployments WHERE component = 'hello-api' AND version = '1.1.0' ORDER BY started_at",
  );
  t.deepEqual(
    approvals,
    [
      { region: 'us-east', approved_by: null },
      { region: 'eu-west', approved_by: 'cab-chair' },
    ],
    'the wave after the gate records who approved it',
  );

  const late = await deploy({ component: 'hello-api', version: '1.2.0', approvalTimeoutSeconds: 2 });
  t.is(late.status, 202);
  const lo = await outcome(late.body.id);
  t.false(lo.ok);
  t.regex(lo.error ?? '', /approval gate: no approval within 2s before eu-west/);
  t.regex(lo.error ?? '', /rolled back us-east to 1\.1\.0/);
  const { rows: reverted } = await pool.query<{ region: string; kind: string; status: string }>(
    "SELECT region, kind, status FROM deployments WHERE component = 'hello-api' AND version = '1.2.0' ORDER BY started_at",
  );
  t.deepEqual(reverted, [{ region: 'us-east', kind: 'deploy', status: 'rolled_back' }], "the canary's deploy of 1.2.0 succeeded, then was rolled back");
  // The clock's decision is in the audit trail, once, with what it refused.
  const audit = await http<{ entries: { action: string; target: string; result: string; actor: string | null; parameters: Record<string, unknown> }[] }>(
    'GET',
    '/api/v1/audit?action=deployments.gate-timeout&limit=50',
  );
  const rows = audit.body.entries.filter((e) => e.target === late.body.deploymentId);
  t.is(rows.length, 1, JSON.stringify(audit.body.entries));
  t.like(rows[0], { result: 'rejected', actor: null, parameters: { component: 'hello-api', version: '1.2.0', before: ['eu-west'], timeoutSeconds: 2 } });
});

test.serial('a rejected gate stops the deploy before the next wave and rolls the canary back; who rejected and why are recorded', async (t) => {
  const r = await deploy({ component: 'hello-api', version: '1.4.0', approvalTimeoutSeconds: 120 });
  t.is(r.status, 202, JSON.stringify(r.body));
  await eventually(
    async () => {
      const d = await http<{ detail: { awaitingApproval: boolean } | null }>('GET', `/api/v1/deployments/${r.body.id}`);
      return d.body.detail?.awaitingApproval ? {} : undefined;
    },
    'the gate',
    60_000,
  );
  const rejectorName = uniqueName('cab');
  const rejector = { name: rejectorName, ...(await makeKey({ name: rejectorName, role: 'operator' })) };
  const rejected = await cli(['deployment', 'reject', r.body.id, '--reason', 'CAB said no'], { STACKWIRE_API_KEY: rejector.key });
  t.is(rejected.code, 0, rejected.stderr);
  t.is(rejected.stdout.trim(), `${r.body.id}: rejected by ${rejector.name}`);
  const o = await outcome(r.body.id);
  t.false(o.ok, 'a rejected deploy fails');
  t.regex(o.error ?? '', new RegExp(`approval gate: rejected by ${rejector.name}: CAB said no`));
  const recs = (await records('hello-api')).filter((x) => x.version === '1.4.0');
  t.deepEqual(
    recs.map((x) => [x.region, x.kind, x.status]),
    [['us-east', 'deploy', 'rolled_back']],
    'the canary rolled back; eu-west, behind the gate, never touched',
  );
  const again = await cli(['deployment', 'approve', r.body.id]);
  t.not(again.code, 0, 'a rejected gate cannot be approved afterwards');
  const audit = await http<{ entries: { action: string; target: string; result: string; actor: string; parameters: Record<string, unknown> }[] }>(
    'GET',
    `/api/v1/audit?actor=${encodeURIComponent(rejector.name)}`,
  );
  // The audit action is the permission used (approving and rejecting are one); the verdict says which.
  t.like(audit.body.entries[0], { action: 'deployments.approve', target: r.body.id, result: 'ok', parameters: { verdict: 'reject', reason: 'CAB said no' } });
});

test.serial('a protected environment needs the deployer role and an approval by someone other than the requester (four eyes)', async (t) => {
  await applyWithDeployComponents(t);
  const operator = await makeKey({ name: uniqueName('op'), role: 'operator' });
  const requester = uniqueName('rm');
  const deployer = await makeKey({ name: requester, role: 'deployer' });
  const body = { component: 'hello-api', version: '3.0.0', environment: 'vault', health: FAST_HEALTH };
  const refused = await http<{ error: { code: string; message: string } }>('POST', '/api/v1/deployments', body, as(operator.key));
  t.is(refused.status, 403);
  t.regex(refused.body.error.message, /vault is a protected environment: deploying there needs the deployer role/);

  const r = await http<{ id: string }>('POST', '/api/v1/deployments', body, as(deployer.key));
  t.is(r.status, 202, JSON.stringify(r.body));
  // The gate comes before the first wave: nothing is deployed until someone else approves.
  const waiting = await eventually(
    async () => {
      const d = await http<{ detail: { awaitingApproval: boolean; done: string[] } | null }>('GET', `/api/v1/deployments/${r.body.id}`);
      return d.body.detail?.awaitingApproval ? d.body.detail : undefined;
    },
    'the gate',
    60_000,
  );
  t.deepEqual(waiting.done, []);
  const self = await http<{ error: { code: string } }>('POST', `/api/v1/deployments/${r.body.id}/approve`, {}, as(deployer.key));
  t.is(self.status, 403);
  t.is(self.body.error.code, 'four_eyes');
  const audit = await http<{ entries: { actor: string; action: string; target: string; result: string; status: number }[] }>(
    'GET',
    `/api/v1/audit?actor=${encodeURIComponent(requester)}`,
  );
  t.like(audit.body.entries[0], { action: 'deployments.approve', target: r.body.id, result: 'denied', status: 403 });

  const approve = await http('POST', `/api/v1/deployments/${r.body.id}/approve`, {}, as(operator.key));
  t.is(approve.status, 202, JSON.stringify(approve.body));
  const o = await outcome(r.body.id);
  t.true(o.ok, o.error);
});

test.serial('plan mode shows the waves and the version changes and starts nothing', async (t) => {
  const badHealth = await deploy({ component: 'hello-api', version: '9.9.9', health: { timeoutSeconds: 60 } });
  t.is(badHealth.status, 400, 'a malformed health setting is refused before anything starts');
  t.regex(badHealth.body.error?.message ?? '', /body\.health: "intervalSeconds" is required/);
  const before = (await records('hello-api')).length;
  const hello = [{ key: SearchAttributes.Component, value: 'hello-api' }];
  const runsBefore = await settledCount('Component = "hello-api"', hello);
  const plan = await cli(['deploy', 'hello-api', '3.0.0', '--env', 'production', '--plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  await recordNewestFixture('deploy-plan-noop', 'WorkflowType = "deployPlan"');
  const p = JSON.parse(plan.stdout) as {
    waves: string[][];
    changes: { region: string; from: string | null; to: string }[];
    puppetNoop: Record<string, { noop: boolean; outOfSync: number; changed: number; exitCode: number }>;
  };
  t.deepEqual(p.waves, [['us-east'], ['eu-west']]);
  for (const region of ['us-east', 'eu-west']) {
    t.true(p.puppetNoop[region].noop);
    t.is(p.puppetNoop[region].changed, 0, 'noop changes nothing');
    t.true(p.puppetNoop[region].outOfSync >= 1, 'but shows what would change (the version in config.yaml)');
  }
  t.false(fs.readFileSync(path.join(config.dataDir, 'deployments', 'production', 'us-east', 'hello-api', 'config.yaml'), 'utf8').includes('3.0.0'));
  t.deepEqual(p.changes, [
    { region: 'us-east', from: '1.1.0', to: '3.0.0' },
    { region: 'eu-west', from: '1.1.0', to: '3.0.0' },
  ]);
  t.is((await records('hello-api')).length, before);
  t.is(await settledCount('Component = "hello-api"', hello), runsBefore, 'the plan started no run');
  // A role that the module path does not have is reported by the plan, before any deploy.
  const missingRole = await http<{ puppetNoop: Record<string, { error?: string }> }>('POST', '/api/v1/deployments', {
    environment: 'production',
    component: 'auth-service',
    version: '9.0.0',
    plan: true,
  });
  t.is(missingRole.status, 200, JSON.stringify(missingRole.body));
  t.regex(
    Object.values(missingRole.body.puppetNoop)[0]?.error ?? '',
    /puppet role role::auth_service is not in the module path .*: expected role\/manifests\/auth_service\.pp/,
  );
  const release = await cli(['release', '--env', 'production', '--plan', 'rt-web=1.0.0', 'rt-api=1.0.0', 'rt-db=1.0.0', 'rt-cache=1.0.0']);
  t.is(release.code, 0, release.stderr);
  t.regex(release.stdout, /wave 1: rt-cache, rt-db\nwave 2: rt-api\nwave 3: rt-web/);
  t.regex(
    release.stdout,
    /rt-web eu-west: \(none\) → 1\.0\.0; puppet noop: \d+ of \d+ resources would change/,
    'each region shows the version change and the puppet noop result',
  );
});

const PLATFORM_COMPONENTS = `components:
  - name: pf-queue
    repository: https://ghe.example.com/test/pf-queue.git
    platform: kvm
    placements: {production: [us-east, eu-west]}
    kvm:
      uri: {us-east: "qemu+ssh://virt-use1.example.com/system", eu-west: "qemu+ssh://virt-euw1.example.com/system"}
      domains: {us-east: [queue-1, queue-2], eu-west: [queue-1]}
      keep_snapshots: 2
  - name: pf-search
    repository: https://ghe.example.com/test/pf-search.git
    platform: vsphere
    placements: {production: [us-east]}
    vsphere:
      endpoint: {us-east: "https://vcenter-use1.example.com"}
      username: svc-stackwire
      password: secret:vcenter-use1
      vms: {us-east: [/DC1/vm/collab/search-1]}
  - name: pf-web
    repository: https://ghe.example.com/test/pf-web.git
    platform: docker
    placements: {production: [eu-west]}
    docker:
      endpoint: {eu-west: "tcp://docker-euw1.example.com:2375"}
      image: registry.example.com/collab/pf-web
      container: pf-web
      ports: ["8080:80"]
      env: {LOG_LEVEL: info, DB_PASSWORD: "secret:pf-web-db"}
      health_timeout: 30
  - name: pf-db
    repository: https://ghe.example.com/test/pf-db.git
    platform: bare-metal
    placements: {production: [us-east]}
    bare_metal:
      hosts: {us-east: [db-1.example.com]}
      ssh_user: deploy
      ssh_key: secret:deploy-key
      known_hosts: |
        db-1.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
`;

test.serial('platform settings are validated with their positions, stored, and shown by a deploy plan per region', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-platforms-'));
  fs.copyFileSync(EXAMPLE, path.join(dir, 'a-platform.yaml'));
  fs.writeFileSync(path.join(dir, 'b-deploy-tests.yaml'), deployComponents());
  const broken = PLATFORM_COMPONENTS.replace(
    'domains: {us-east: [queue-1, queue-2], eu-west: [queue-1]}',
    'domains: {us-east: [queue-1, "bad name"], ap-south: [x]}',
  )
    .replace('password: secret:vcenter-use1', 'password: hunter2')
    .replace('ports: ["8080:80"]', 'ports: ["8080:99999"]')
    .replace('tcp://docker-euw1.example.com:2375', 'https://docker-euw1.example.com:2376')
    .replace('ssh_user: deploy', 'ssh_user: deploy\n      docker: {}')
    .replace('hosts: {us-east: [db-1.example.com]}', 'hosts: {us-east: [db-1.example.com, db-2.example.com]}');
  fs.writeFileSync(path.join(dir, 'c-platforms.yaml'), broken);
  const bad = await cli(['sot', 'apply', dir]);
  t.is(bad.code, 2, bad.stdout);
  t.regex(bad.stderr, /c-platforms\.yaml:8:36: component pf-queue: kvm\.domains\.us-east: "bad name" is not libvirt domain names/);
  t.regex(
    bad.stderr,
    /c-platforms\.yaml:8:49: component pf-queue: kvm\.domains: the component is not placed in region "ap-south" \(it is in us-east, eu-west\)/,
  );
  t.regex(bad.stderr, /c-platforms\.yaml:8:\d+: component pf-queue: kvm\.domains has no entry for region eu-west, where the component is placed/);
  t.regex(bad.stderr, /c-platforms\.yaml:17:17: component pf-search: vsphere\.password: "hunter2" is not a secret reference, secret:<name>/);
  t.regex(bad.stderr, /c-platforms\.yaml:27:15: component pf-web: docker\.ports: "8080:99999" is not host:container/);
  t.regex(
    bad.stderr,
    /c-platforms\.yaml:24:\d+: component pf-web: docker\.endpoint\.eu-west: https:\/\/docker-euw1\.example\.com:2376: TLS to the Docker Engine is not supported yet/,
  );
  t.regex(bad.stderr, /c-platforms\.yaml:\d+:\d+: component pf-db: bare_metal: unknown field "docker"/);
  t.regex(bad.stderr, /component pf-db: bare_metal: host db-2\.example\.com has no line in known_hosts \(host keys are always checked\)/);
  t.is((await http<{ components: unknown[] }>('GET', '/api/v1/components')).body.components.filter((c) => JSON.stringify(c).includes('pf-')).length, 0);

  fs.writeFileSync(path.join(dir, 'c-platforms.yaml'), PLATFORM_COMPONENTS);
  const ok = await cli(['sot', 'apply', dir]);
  t.is(ok.code, 0, ok.stderr);
  const plan = async (component: string) => {
    const r = await cli(['deploy', component, '4.2.0', '--env', 'production', '--plan', '--json']);
    t.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { platform: string; platformWork: Record<string, string[]> };
  };
  t.deepEqual(await plan('pf-queue'), {
    ...(await plan('pf-queue')),
    platform: 'kvm',
    platformWork: {
      'us-east': [
        'snapshot KVM domain queue-1 on qemu+ssh://virt-use1.example.com/system (keep 2)',
        'snapshot KVM domain queue-2 on qemu+ssh://virt-use1.example.com/system (keep 2)',
      ],
      'eu-west': ['snapshot KVM domain queue-1 on qemu+ssh://virt-euw1.example.com/system (keep 2)'],
    },
  });
  t.deepEqual((await plan('pf-search')).platformWork, {
    'us-east': ['snapshot vSphere VM /DC1/vm/collab/search-1 on https://vcenter-use1.example.com (keep 3)'],
  });
  t.deepEqual((await plan('pf-web')).platformWork, {
    'eu-west': ['pull registry.example.com/collab/pf-web:4.2.0 on tcp://docker-euw1.example.com:2375', 'replace container pf-web (health within 30s)'],
  });
  t.deepEqual((await plan('pf-db')).platformWork, { 'us-east': ['reach deploy@db-1.example.com:22 over SSH (host key checked)'] });
  // A platform without its settings block: the plan says what does not happen.
  const noSettings = ['no bare_metal settings: the action and Puppet run on the worker, not on a host'];
  t.deepEqual((await plan('redis')).platformWork, { 'us-east': noSettings, 'eu-west': noSettings });
  const human = await cli(['deploy', 'pf-queue', '4.2.0', '--env', 'production', '--plan']);
  t.regex(human.stdout, / {2}eu-west: \(none\) → 4\.2\.0\n {4}snapshot KVM domain queue-1 on qemu\+ssh:\/\/virt-euw1\.example\.com\/system \(keep 2\)/);
  // The source of truth of the other tests again.
  await applyWithDeployComponents(t);
});

test.serial(
  'a docker leg pulls the image, replaces the container behind a health gate, and runs the previous image again when unhealthy (Docker Engine API STUB)',
  async (t) => {
    const stub = await startDockerStub({ unhealthy: ['2.0.0'] });
    t.teardown(() => stub.close());
    await applyWithExtra(
      t,
      `components:
  - name: pf-docker
    repository: https://ghe.example.com/test/pf-docker.git
    platform: docker
    placements: {production: [us-east]}
    docker:
      endpoint: {us-east: "${stub.url}"}
      image: registry.example.com/collab/pf-docker
      container: pf-docker
      ports: ["18080:80"]
      env: {LOG_LEVEL: info, DB_PASSWORD: "secret:pf-docker-db"}
      health_timeout: 20
`,
    );
    const image = 'registry.example.com/collab/pf-docker';
    // A secret the settings refer to must be set first; then it reaches the container, and no record holds it.
    const unset = await deploy({ component: 'pf-docker', version: '0.9.0' });
    t.is(unset.status, 202);
    t.regex(
      (await outcome(unset.body.id)).error ?? '',
      /refers to secret:pf-docker-db, which is not set: stackwire sot secret set pf-docker-db --from-env VAR/,
    );
    const dbPassword = `pw-${crypto.randomBytes(6).toString('hex')}`;
    const set = await cli(['sot', 'secret', 'set', 'pf-docker-db', '--from-env', 'PF_DB_PASSWORD'], { PF_DB_PASSWORD: dbPassword });
    t.is(set.code, 0, set.stderr);
    const listed = await cli(['sot', 'secret', 'list', '--json']);
    t.false(listed.stdout.includes(dbPassword));
    t.true(listed.stdout.includes('"pf-docker-db"'));
    const { rows } = await pool.query<{ value: unknown }>("SELECT value FROM sot_secrets WHERE name = 'pf-docker-db'");
    t.false(JSON.stringify(rows[0].value).includes(dbPassword), 'sealed at rest');
    stub.calls.length = 0;
    const first = await deploy({ component: 'pf-docker', version: '1.0.0' });
    t.is(first.status, 202, JSON.stringify(first.body));
    const o1 = await outcome(first.body.id);
    t.true(o1.ok, o1.error);
    t.deepEqual(stub.containers(), [{ name: 'pf-docker', image: `${image}:1.0.0`, running: true }]);
    t.deepEqual(stub.env('pf-docker'), ['LOG_LEVEL=info', `DB_PASSWORD=${dbPassword}`], 'the secret reached the container');
    t.false(JSON.stringify(await records('pf-docker')).includes(dbPassword));
    const calls1 = stub.calls.map((c) => `${c.method} ${c.path.replace(/[0-9a-f]{64}/g, '<id>')}`);
    t.deepEqual(calls1.slice(0, 5), [
      'GET /v1.43/containers/pf-docker/json',
      'GET /v1.43/containers/pf-docker.stackwire-previous/json',
      `POST /v1.43/images/create?fromImage=${encodeURIComponent(image)}&tag=1.0.0`,
      'POST /v1.43/containers/create?name=pf-docker',
      'POST /v1.43/containers/<id>/start',
    ]);
    stub.calls.length = 0;

    // 2.0.0 never gets healthy: the new container goes, 1.0.0 runs again, and the deploy fails and rolls back.
    const second = await deploy({ component: 'pf-docker', version: '2.0.0' });
    t.is(second.status, 202, JSON.stringify(second.body));
    const o2 = await outcome(second.body.id);
    t.false(o2.ok);
    t.regex(
      o2.error ?? '',
      /docker: replace container pf-docker failed in us-east: .*container pf-docker \(registry\.example\.com\/collab\/pf-docker:2\.0\.0\) is not healthy: unhealthy; the previous container \(registry\.example\.com\/collab\/pf-docker:1\.0\.0\) runs again/,
    );
    t.regex(o2.error ?? '', /rolled back us-east to 1\.0\.0/);
    t.deepEqual(stub.containers(), [{ name: 'pf-docker', image: `${image}:1.0.0`, running: true }], 'only the previous container is left, running');
    const calls2 = stub.calls.map((c) => `${c.method} ${c.path.replace(/[0-9a-f]{64}/g, '<id>')}`);
    t.deepEqual(
      calls2.filter((c) => !c.startsWith('GET')),
      [
        `POST /v1.43/images/create?fromImage=${encodeURIComponent(image)}&tag=2.0.0`,
        'POST /v1.43/containers/<id>/stop?t=10',
        'POST /v1.43/containers/<id>/rename?name=pf-docker.stackwire-previous',
        'POST /v1.43/containers/create?name=pf-docker',
        'POST /v1.43/containers/<id>/start',
        'DELETE /v1.43/containers/<id>?force=true',
        'POST /v1.43/containers/<id>/rename?name=pf-docker',
        'POST /v1.43/containers/<id>/start',
      ],
      'pull, stop and keep aside, start the new one; unhealthy: remove it, the old one back under its name',
    );
    const recs = (await records('pf-docker')).map((x) => [x.region, x.kind, x.version, x.status]);
    t.deepEqual(recs, [
      ['us-east', 'deploy', '0.9.0', 'failed'],
      ['us-east', 'deploy', '1.0.0', 'succeeded'],
      ['us-east', 'deploy', '2.0.0', 'failed'],
      ['us-east', 'rollback', '1.0.0', 'succeeded'],
    ]);

    // What an attempt leaves when its worker dies mid-step, made through the Engine API itself.
    const api = async (method: string, p: string, body?: unknown) =>
      (
        await fetch(`${stub.url.replace(/^tcp:/, 'http:')}/v1.43${p}`, {
          method,
          ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
        })
      ).status;
    const deadAttempt = async (version: string, started: boolean) => {
      t.is(await api('POST', '/containers/pf-docker/stop?t=10'), 204);
      t.is(await api('POST', '/containers/pf-docker/rename?name=pf-docker.stackwire-previous'), 204);
      t.is(await api('POST', `/images/create?fromImage=${encodeURIComponent(image)}&tag=${version}`), 200);
      t.is(await api('POST', '/containers/create?name=pf-docker', { Image: `${image}:${version}` }), 201);
      if (started) t.is(await api('POST', '/containers/pf-docker/start'), 204);
    };
    // It had put 1.0.0 aside and created 2.0.0, not started: the one aside is the previous container.
    await deadAttempt('2.0.0', false);
    const third = await deploy({ component: 'pf-docker', version: '2.0.0' });
    const o3 = await outcome(third.body.id);
    t.false(o3.ok);
    t.regex(o3.error ?? '', /is not healthy: unhealthy; the previous container \(registry\.example\.com\/collab\/pf-docker:1\.0\.0\) runs again/);
    t.deepEqual(stub.containers(), [{ name: 'pf-docker', image: `${image}:1.0.0`, running: true }], 'the container the dead attempt kept aside runs again');
    // It had started 1.1.0 (healthy) and died before its health gate: the step finishes it.
    await deadAttempt('1.1.0', true);
    const fourth = await deploy({ component: 'pf-docker', version: '1.1.0' });
    const o4 = await outcome(fourth.body.id);
    t.true(o4.ok, o4.error);
    t.like((o4.result as { regions: { platform: Record<string, unknown> }[] }).regions[0].platform, {
      image: `${image}:1.1.0`,
      previousImage: `${image}:1.0.0`,
      outcome: 'healthy',
    });
    t.deepEqual(stub.containers(), [{ name: 'pf-docker', image: `${image}:1.1.0`, running: true }], 'nothing is left aside');
    // An earlier step got its container healthy but could not remove the old one, left aside: the running
    // container is the previous one, and the stale one goes.
    t.is(await api('POST', '/containers/create?name=pf-docker.stackwire-previous', { Image: `${image}:1.0.0` }), 201);
    const fifth = await deploy({ component: 'pf-docker', version: '2.0.0' });
    const o5 = await outcome(fifth.body.id);
    t.false(o5.ok);
    t.regex(o5.error ?? '', /the previous container \(registry\.example\.com\/collab\/pf-docker:1\.1\.0\) runs again/);
    t.deepEqual(stub.containers(), [{ name: 'pf-docker', image: `${image}:1.1.0`, running: true }], 'the running container came back, the stale one is gone');
    await applyWithDeployComponents(t);
  },
);

test.serial("a KVM leg snapshots its domains first, keeps the last ones, and reverts them when the leg fails (libvirt's test driver)", async (t) => {
  await applyWithExtra(
    t,
    `components:
  - name: pf-vm
    repository: https://ghe.example.com/test/pf-vm.git
    platform: kvm
    placements: {production: [us-east]}
    checks:
      - name: pf-vm-http
        command: check_http -H 127.0.0.1 -p ${healthPort} -u '/health?version={version}' -t 5
        timeout: 10
    kvm:
      uri: {us-east: "test:///default"}
      domains: {us-east: [test]}
      keep_snapshots: 2
`,
  );
  type Platform = { snapshot: string; domains: { domain: string; snapshots: string[]; deleted: string[] }[] };
  const platformOf = (o: { result?: Record<string, unknown> }) => (o.result as { regions: { platform: Platform }[] }).regions[0].platform;
  const taken = (await deployAll(t, 'pf-vm', ['1.0.0', '1.1.0', '1.2.0'])).map((result) => platformOf({ result }));
  const names = taken.map((p) => p.snapshot);
  t.true(
    names.every((n) => /^stackwire-\d{17}-[A-Za-z0-9]{1,8}$/.test(n)),
    names.join(', '),
  );
  t.deepEqual(
    taken.map((p) => p.domains[0]),
    [
      { domain: 'test', snapshots: [names[0]], deleted: [] },
      { domain: 'test', snapshots: [names[0], names[1]], deleted: [] },
      { domain: 'test', snapshots: [names[1], names[2]], deleted: [names[0]] },
    ],
    'a snapshot before each leg; beyond keep_snapshots the oldest go',
  );
  const bad = await deploy({ component: 'pf-vm', version: '2.0.0-bad' });
  t.is(bad.status, 202);
  const o = await outcome(bad.body.id);
  t.false(o.ok);
  const reverted = /reverted test to snapshot (stackwire-\d{17}-[A-Za-z0-9]+) \(current snapshot: (stackwire-\d{17}-[A-Za-z0-9]+)\)/.exec(o.error ?? '');
  t.truthy(reverted, o.error);
  t.is(reverted![1], reverted![2], "libvirt's current snapshot is the one taken before the failed leg");
  t.false(names.includes(reverted![1]), 'a new snapshot, taken by the failed leg');
  const recs = (await records('pf-vm')).map((x) => [x.kind, x.version, x.status]);
  t.deepEqual(recs.slice(3), [
    ['deploy', '2.0.0-bad', 'failed'],
    ['rollback', '1.2.0', 'succeeded'],
  ]);
  t.regex((await records('pf-vm'))[3].reason ?? '', /health checks failed in us-east: .*; reverted test to snapshot/);
  await applyWithDeployComponents(t);
});

test.serial(
  'a vSphere leg snapshots its VMs first through the VI/JSON API, keeps the last ones, and reverts them when the leg fails (vSphere STUB)',
  async (t) => {
    const password = `vc-${crypto.randomBytes(6).toString('hex')}`;
    const stub = await startVsphereStub({ username: 'svc-stackwire', password, vms: ['/DC1/vm/collab/pf-1'] });
    t.teardown(() => stub.close());
    await applyWithExtra(
      t,
      `components:
  - name: pf-vs
    repository: https://ghe.example.com/test/pf-vs.git
    platform: vsphere
    placements: {production: [us-east]}
    checks:
      - name: pf-vs-http
        command: check_http -H 127.0.0.1 -p ${healthPort} -u '/health?version={version}' -t 5
        timeout: 10
    vsphere:
      endpoint: {us-east: "${stub.url}"}
      username: svc-stackwire
      password: secret:pf-vs-vcenter
      vms: {us-east: [/DC1/vm/collab/pf-1]}
      keep_snapshots: 2
`,
    );
    t.is((await cli(['sot', 'secret', 'set', 'pf-vs-vcenter', '--from-env', 'VC_PASSWORD'], { VC_PASSWORD: password })).code, 0);
    const names = (await deployAll(t, 'pf-vs', ['1.0.0', '1.1.0', '1.2.0'])).map(
      (result) => (result as { regions: { platform: { snapshot: string } }[] }).regions[0].platform.snapshot,
    );
    t.deepEqual(stub.state('/DC1/vm/collab/pf-1'), { snapshots: [names[1], names[2]], current: names[2] }, 'beyond keep_snapshots the oldest was removed');
    stub.calls.length = 0;
    const bad = await deploy({ component: 'pf-vs', version: '2.0.0-bad' });
    const o = await outcome(bad.body.id);
    t.false(o.ok);
    const m = /reverted \/DC1\/vm\/collab\/pf-1 to snapshot (stackwire-\d{17}-[A-Za-z0-9]+) \(current snapshot: (stackwire-[^)]+)\)/.exec(o.error ?? '');
    t.truthy(m, o.error);
    t.is(m![1], m![2]);
    t.is(stub.state('/DC1/vm/collab/pf-1').current, m![1], "the stub's current snapshot is the one taken before the failed leg");
    const posts = stub.calls
      .filter((c) => c.method === 'POST')
      .map((c) => c.path.replace(/^\/sdk\/vim25\/8\.0\.1\.0/, '').replace(/snapshot-\d+|vm-\d+/g, '<id>'));
    t.deepEqual(
      posts,
      [
        '/SessionManager/SessionManager/Login',
        '/SearchIndex/SearchIndex/FindByInventoryPath',
        '/VirtualMachine/<id>/CreateSnapshot_Task',
        '/VirtualMachineSnapshot/<id>/RemoveSnapshot_Task',
        '/SessionManager/SessionManager/Logout',
        '/SessionManager/SessionManager/Login',
        '/SearchIndex/SearchIndex/FindByInventoryPath',
        '/VirtualMachineSnapshot/<id>/RevertToSnapshot_Task',
        '/SessionManager/SessionManager/Logout',
      ],
      'log in, find the VM, snapshot, remove the oldest, log out; after the failure: log in, find, revert, log out',
    );
    t.false(JSON.stringify(await records('pf-vs')).includes(password));

    // A gateway answers 503 while the snapshot task runs: the attempt fails, and the next one waits for
    // that task instead of taking a second snapshot of the same name.
    stub.calls.length = 0;
    stub.slowTasks(3000);
    stub.failTaskPolls(1);
    const [retried] = await deployAll(t, 'pf-vs', ['1.3.0']);
    stub.slowTasks(0);
    const taken = (retried as { regions: { platform: { snapshot: string } }[] }).regions[0].platform.snapshot;
    const logins = stub.calls.filter((c) => c.path.endsWith('/SessionManager/SessionManager/Login')).length;
    t.true(logins >= 2, `a second attempt ran (${logins} logins)`);
    t.is(stub.calls.filter((c) => c.path.endsWith('/CreateSnapshot_Task')).length, 1, 'one snapshot task');
    const after = stub.state('/DC1/vm/collab/pf-1');
    t.deepEqual(
      after.snapshots.filter((n) => n === taken),
      [taken],
      'one snapshot of that name',
    );
    t.is(after.current, taken);
    await applyWithDeployComponents(t);
  },
);

test.serial(
  "a rollback leg of a region whose deploy leg succeeded reverts its VMs to that leg's snapshot first; the region behind the gate is never touched (vSphere STUB)",
  async (t) => {
    const password = `vc-${crypto.randomBytes(6).toString('hex')}`;
    const stub = await startVsphereStub({ username: 'svc-stackwire', password, vms: ['/DC1/vm/collab/rb-1', '/DC1/vm/collab/rb-2'] });
    t.teardown(() => stub.close());
    await applyWithExtra(
      t,
      `components:
  - name: pf-vs-rb
    repository: https://ghe.example.com/test/pf-vs-rb.git
    platform: vsphere
    placements: {production: [us-east, eu-west]}
    vsphere:
      endpoint: {us-east: "${stub.url}", eu-west: "${stub.url}"}
      username: svc-stackwire
      password: secret:pf-vs-rb-vcenter
      vms: {us-east: [/DC1/vm/collab/rb-1], eu-west: [/DC1/vm/collab/rb-2]}
      keep_snapshots: 3
`,
    );
    t.is((await cli(['sot', 'secret', 'set', 'pf-vs-rb-vcenter', '--from-env', 'VC_PASSWORD'], { VC_PASSWORD: password })).code, 0);
    await deployAll(t, 'pf-vs-rb', ['1.0.0']);
    const before2 = stub.state('/DC1/vm/collab/rb-2');
    const r = await deploy({ component: 'pf-vs-rb', version: '1.1.0', approvalTimeoutSeconds: 120 });
    t.is(r.status, 202, JSON.stringify(r.body));
    await eventually(
      async () =>
        (await http<{ detail: { awaitingApproval: boolean } | null }>('GET', `/api/v1/deployments/${r.body.id}`)).body.detail?.awaitingApproval
          ? {}
          : undefined,
      'the gate',
    );
    const client = await temporalClient();
    const taken = ((await client.workflow.getHandle(`${r.body.deploymentId}.us-east.deploy`).result()) as { platform: { snapshot: string } }).platform.snapshot;
    t.is(stub.state('/DC1/vm/collab/rb-1').current, taken);
    const rejectorName = uniqueName('cab');
    const rejector = await makeKey({ name: rejectorName, role: 'operator' });
    t.is((await cli(['deployment', 'reject', r.body.id, '--reason', 'not today'], { STACKWIRE_API_KEY: rejector.key })).code, 0);
    t.false((await outcome(r.body.id)).ok);
    const rollback = (await client.workflow.getHandle(`${r.body.deploymentId}.us-east.rollback`).result()) as {
      platform: { revertedTo: string; vms: { vm: string; current: string }[] };
    };
    t.deepEqual(rollback.platform, { revertedTo: taken, vms: [{ vm: '/DC1/vm/collab/rb-1', current: taken }] }, 'the rollback leg reverted the canary first');
    t.is(stub.state('/DC1/vm/collab/rb-1').current, taken);
    t.deepEqual(stub.state('/DC1/vm/collab/rb-2'), before2, 'eu-west, behind the gate, was never touched');
    await applyWithDeployComponents(t);
  },
);

test.serial(
  'a bare-metal leg runs the deploy action and puppet apply on its host over SSH (a loopback sshd), host keys checked; an unknown key is refused',
  async (t) => {
    const sshd = await startSshd();
    t.teardown(() => sshd.stop());
    const home = `/home/${sshd.user}`;
    const stateFile = path.join(home, '.stackwire', 'deployments', 'production', 'us-east', 'pf-bm', 'config.yaml');
    fs.rmSync(path.join(home, '.stackwire'), { recursive: true, force: true });
    const hostile = `x'$(touch /tmp/stackwire-bm-pwned)"; touch /tmp/stackwire-bm-pwned`;
    fs.rmSync('/tmp/stackwire-bm-pwned', { force: true });
    const component = (knownHosts: string) => `components:
  - name: pf-bm
    repository: https://ghe.example.com/test/pf-bm.git
    platform: bare-metal
    puppet_role: role::pf_bm
    hiera:
      pf_bm::motd: ${JSON.stringify(hostile)}
    placements: {production: [us-east]}
    checks:
      - name: pf-bm-http
        command: check_http -H 127.0.0.1 -p ${healthPort} -u '/health?version={version}' -t 5
        timeout: 10
    deploy_params:
      artifact: ${JSON.stringify(hostile)}
    actions:
      deploy: deploykit.deploy_artifact
    bare_metal:
      hosts: {us-east: [127.0.0.1]}
      port: ${sshd.port}
      ssh_user: ${sshd.user}
      ssh_key: secret:pf-bm-ssh
      known_hosts: ${JSON.stringify(knownHosts)}
`;
    await applyWithExtra(t, component(sshd.knownHosts));
    t.is((await cli(['sot', 'secret', 'set', 'pf-bm-ssh', '--from-env', 'KEY'], { KEY: sshd.clientKey })).code, 0);

    const [first] = await deployAll(t, 'pf-bm', ['1.0.0', '1.1.0']);
    t.deepEqual((first as { regions: { platform: unknown }[] }).regions[0].platform, { hosts: [`${sshd.user}@127.0.0.1:${sshd.port}`] });
    // The stand-in role class wrote the component's config file on the host, as the SSH user, in its home.
    t.is(fs.statSync(stateFile).uid, Number(spawnSync('id', ['-u', sshd.user], { encoding: 'utf8' }).stdout.trim()), 'puppet ran as the SSH user');
    t.regex(fs.readFileSync(stateFile, 'utf8'), /^version: 1\.1\.0$/m);
    t.true(fs.readFileSync(stateFile, 'utf8').includes(`pf_bm::motd: ${hostile}`), 'a Hiera value arrives literally');
    t.is(
      fs.readFileSync(path.join(path.dirname(stateFile), 'motd'), 'utf8'),
      `${hostile}\n`,
      "the operator's role class (its modules sent along) ran on the host",
    );
    const { rows } = await pool.query<{ id: string; argv: string[]; stdout: string; status: string }>(
      "SELECT id, argv, stdout, status FROM executions WHERE action = 'deploykit.deploy_artifact' AND id LIKE '%.action@127.0.0.1' ORDER BY started_at",
    );
    t.is(rows.length, 2, 'one execution per host and leg, named after the host');
    t.deepEqual(rows[1].argv.slice(0, 3), ['ssh', `${sshd.user}@127.0.0.1:${sshd.port}`, '--']);
    t.is(rows[1].status, 'succeeded');
    t.true(rows[1].stdout.includes(`fetching ${hostile}-1.1.0.tar.gz for pf-bm (production/us-east)`), rows[1].stdout);
    t.false(fs.existsSync('/tmp/stackwire-bm-pwned'), "a parameter is never code for the host's shell");
    t.deepEqual(
      fs.readdirSync(home).filter((f) => f.startsWith('tmp')),
      [],
      'nothing of the runs is left on the host',
    );

    // A failing health check: the rollback leg runs the previous version's action and puppet on the host.
    const bad = await deploy({ component: 'pf-bm', version: '2.0.0-bad' });
    const o = await outcome(bad.body.id);
    t.false(o.ok);
    t.regex(o.error ?? '', /health checks failed in us-east.*rolled back us-east to 1\.1\.0/);
    t.regex(fs.readFileSync(stateFile, 'utf8'), /^version: 1\.1\.0$/m, 'the rollback leg applied 1.1.0 on the host again');

    // A cancelled deploy stops the run on the host too (its bootstrap watches the connection), and leaves no folder there.
    const pidfile = `/tmp/stackwire-bm-sleep-${process.pid}.pid`;
    fs.rmSync(pidfile, { force: true });
    await applyWithExtra(
      t,
      component(sshd.knownHosts) +
        component(sshd.knownHosts)
          .replace('components:\n', '')
          .replace('name: pf-bm', 'name: pf-bm-sleep')
          .replace('deploy: deploykit.deploy_artifact', 'deploy: testkit.sleep')
          .replace(/artifact: .*/, `pidfile: ${pidfile}`)
          .replace(/ *puppet_role: .*\n/, ''),
    );
    const sleeping = await deploy({ component: 'pf-bm-sleep', version: '1.0.0' });
    t.is(sleeping.status, 202, JSON.stringify(sleeping.body));
    const pids = await eventually(
      () => (fs.existsSync(pidfile) ? fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number) : undefined),
      'the pid file on the host',
    );
    t.true(alive(pids[0]), 'the action runs on the host');
    await (await temporalClient()).workflow.getHandle(sleeping.body.id).cancel();
    t.false((await outcome(sleeping.body.id)).ok);
    await gone(pids, 'the processes on the host', 30_000);
    const uid = fs.statSync(pidfile).uid;
    t.deepEqual(
      fs.readdirSync('/tmp').filter((f) => {
        const dir = path.join('/tmp', f);
        return f.startsWith('tmp.') && fs.statSync(dir, { throwIfNoEntry: false })?.uid === uid && fs.existsSync(path.join(dir, 'run.sh'));
      }),
      [],
      "the run's folder on the host is removed",
    );

    // The host presents a key the source of truth does not list: refused before anything runs there.
    await applyWithExtra(t, component(sshd.otherKnownHosts));
    const before = fs.statSync(stateFile).mtimeMs;
    const spoofed = await deploy({ component: 'pf-bm', version: '1.2.0' });
    const so = await outcome(spoofed.body.id);
    t.false(so.ok);
    t.regex(
      so.error ?? '',
      /deploy action deploykit\.deploy_artifact on 127\.0\.0\.1 failed in us-east: .*the host's key is not in the component's known_hosts \(source of truth\), so nothing ran there/,
    );
    t.is(fs.statSync(stateFile).mtimeMs, before, 'nothing ran on the host');
    t.false(JSON.stringify(await records('pf-bm')).includes('PRIVATE KEY'));
    await applyWithDeployComponents(t);
  },
);

/** Listens on a loopback port (0: a free one), answering HTTP 200: a check_tcp or check_http of it passes until `close`. */
async function listener(port = 0): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = http_.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  return { port: (srv.address() as AddressInfo).port, close: () => new Promise<void>((resolve) => srv.close(() => resolve())) };
}

test.serial(
  "the example's platform components deploy on their platforms: postgres over SSH, rabbitmq on libvirt (its snapshots and revert seen by libvirt itself), object-store through vCenter, web-ui through the Engine API",
  async (t) => {
    const [sshd, libvirt, docker] = await Promise.all([startSshd(), startLibvirtd(), startDockerStub()]);
    const vcPassword = `vc-${crypto.randomBytes(6).toString('hex')}`;
    const vcenter = await startVsphereStub({ username: 'svc-stackwire', password: vcPassword, vms: ['/DC-USE1/vm/collab/object-store-1'] });
    // What the example's checks reach (rabbitmq, object-store, web-ui; postgres's is the real Postgres): ports of the test's own,
    // as this machine may run services on the example's ports (it runs a RabbitMQ on 5672).
    const ports = await Promise.all([0, 0, 0].map((p) => listener(p)));
    t.teardown(async () => {
      sshd.stop();
      libvirt.stop();
      await Promise.all([docker.close(), vcenter.close(), ...ports.map((p) => p.close().catch(() => undefined))]);
    });
    libvirt.defineDomain('rabbitmq-1');
    libvirt.defineDomain('rabbitmq-2');

    // The example as it is, but for where us-east's machines are reached: this machine's libvirtd, stubs and sshd.
    const doc = YAML.parseDocument(fs.readFileSync(EXAMPLE, 'utf8'));
    const at = (name: string) => (doc.toJS() as { components: { name: string }[] }).components.findIndex((c) => c.name === name);
    const euKnownHost = (doc.getIn(['components', at('postgres'), 'bare_metal', 'known_hosts']) as string).split('\n').find((l) => l.startsWith('db-euw1'));
    doc.setIn(['components', at('rabbitmq'), 'kvm', 'uri', 'us-east'], libvirt.uri);
    doc.setIn(['components', at('object-store'), 'vsphere', 'endpoint', 'us-east'], vcenter.url);
    doc.setIn(['components', at('web-ui'), 'docker', 'endpoint', 'us-east'], docker.url);
    doc.setIn(['components', at('postgres'), 'bare_metal', 'hosts', 'us-east'], doc.createNode(['127.0.0.1'], { flow: true }));
    doc.setIn(['components', at('postgres'), 'bare_metal', 'port'], sshd.port);
    doc.setIn(['components', at('postgres'), 'bare_metal', 'ssh_user'], sshd.user);
    doc.setIn(['components', at('postgres'), 'bare_metal', 'known_hosts'], `${sshd.knownHosts.trim()}\n${euKnownHost}\n`);
    ['rabbitmq', 'object-store', 'web-ui'].forEach((name, i) => {
      const checks = doc.getIn(['components', at(name), 'checks']) as YAML.YAMLSeq<YAML.YAMLMap>;
      for (const c of checks.items) c.set('command', String(c.get('command')).replace(/-p \d+/, `-p ${ports[i].port}`));
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-example-platforms-'));
    fs.writeFileSync(path.join(dir, 'a-platform.yaml'), doc.toString());
    fs.writeFileSync(path.join(dir, 'b-deploy-tests.yaml'), deployComponents());
    const applied = await cli(['sot', 'apply', dir]);
    t.is(applied.code, 0, applied.stderr);
    const dbPassword = `db-${crypto.randomBytes(6).toString('hex')}`;
    for (const [name, env, value] of [
      ['deploy-key', 'KEY', sshd.clientKey],
      ['vcenter-svc', 'VALUE', vcPassword],
      ['web-ui-db', 'VALUE', dbPassword],
    ] as const)
      t.is((await cli(['sot', 'secret', 'set', name, '--from-env', env], { [env]: value })).code, 0, name);

    const staging = async (component: string, version: string, health = FAST_HEALTH) => {
      const r = await deploy({ component, version, environment: 'staging', health });
      t.is(r.status, 202, JSON.stringify(r.body));
      return { ...(await outcome(r.body.id)), deploymentId: r.body.deploymentId };
    };
    const platformOf = (o: { result?: Record<string, unknown> }) => (o.result as { regions: { platform: Record<string, unknown> }[] }).regions[0].platform;
    const done = await Promise.all(['postgres', 'rabbitmq', 'object-store', 'web-ui'].map((c) => staging(c, '1.0.0')));
    for (const o of done) t.true(o.ok, o.error);
    const [pg, mq, os_, ui] = done.map(platformOf);

    // postgres: the action and Puppet ran on the host, as the SSH user.
    t.deepEqual(pg, { hosts: [`${sshd.user}@127.0.0.1:${sshd.port}`] });
    const pgState = path.join(`/home/${sshd.user}`, '.stackwire', 'deployments', 'staging', 'us-east', 'postgres', 'config.yaml');
    t.regex(fs.readFileSync(pgState, 'utf8'), /^version: 1\.0\.0$/m);
    // rabbitmq: libvirt itself lists the snapshot on both domains.
    const first = mq.snapshot as string;
    for (const d of ['rabbitmq-1', 'rabbitmq-2']) t.deepEqual(libvirt.virsh('snapshot-list', '--domain', d, '--name').split('\n'), [first], d);
    // object-store: vCenter (the stub) holds the snapshot.
    t.deepEqual(vcenter.state('/DC-USE1/vm/collab/object-store-1'), { snapshots: [os_.snapshot as string], current: os_.snapshot as string });
    // web-ui: the container runs the version, with the sealed variable.
    t.like(ui, { image: 'registry.collab.internal/collab/web-ui:1.0.0', outcome: 'healthy' });
    t.deepEqual(docker.containers(), [{ name: 'web-ui', image: 'registry.collab.internal/collab/web-ui:1.0.0', running: true }]);
    t.deepEqual(docker.env('web-ui'), ['LOG_LEVEL=info', `DB_PASSWORD=${dbPassword}`]);

    // rabbitmq 1.1.0 fails its health check (nothing on its port): the leg reverts both domains to the snapshot
    // it took. Meanwhile the test changes the machines behind the worker's back (suspends them, makes the
    // older snapshot current): only a revert puts them back.
    await ports[0].close();
    const failing = staging('rabbitmq', '1.1.0', { timeoutSeconds: 15, intervalSeconds: 1 });
    const second = await eventually(() => {
      const names = libvirt.virsh('snapshot-list', '--domain', 'rabbitmq-2', '--name').split('\n');
      return names.length === 2 ? names.find((n) => n !== first) : undefined;
    }, "the failing leg's snapshot");
    for (const d of ['rabbitmq-1', 'rabbitmq-2']) {
      await eventually(() => (libvirt.virsh('snapshot-list', '--domain', d, '--name').includes(second) ? true : undefined), `the snapshot of ${d}`);
      libvirt.virsh('suspend', d);
      libvirt.virsh('snapshot-current', '--domain', d, '--snapshotname', first);
      t.is(libvirt.virsh('domstate', d), 'paused');
    }
    // Once reverted, the checks may pass again (the rollback leg's).
    await eventually(() => (['rabbitmq-1', 'rabbitmq-2'].every((d) => libvirt.virsh('domstate', d) === 'running') ? true : undefined), 'the revert');
    ports[0] = await listener(ports[0].port);
    const failed = await failing;
    // The Web UI names each platform step: the leg's activities carry summaries.
    const leg = await decodedHistoryText(await (await temporalClient()).workflow.getHandle(`${failed.deploymentId}.us-east.deploy`).fetchHistory());
    t.true(leg.includes(`snapshot KVM domains as ${second} (rabbitmq in us-east)`), 'the snapshot step has its summary');
    t.true(leg.includes(`revert KVM domains to ${second} (rabbitmq in us-east)`), 'the revert step has its summary');
    t.false(failed.ok);
    t.regex(failed.error ?? '', new RegExp(`health checks failed in us-east: .*reverted rabbitmq-1 to snapshot ${second}`));
    for (const d of ['rabbitmq-1', 'rabbitmq-2']) {
      t.deepEqual(libvirt.virsh('snapshot-list', '--domain', d, '--name').split('\n'), [first, second], `${d}: both snapshots kept`);
      t.is(libvirt.virsh('snapshot-current', '--domain', d, '--name'), second, `${d}: libvirt's current snapshot is the one the failed leg took`);
      t.is(libvirt.virsh('domstate', d), 'running', `${d}: running again, as when the snapshot was taken`);
    }
    t.deepEqual(
      (await records('rabbitmq')).map((x) => [x.region, x.kind, x.version, x.status]),
      [
        ['us-east', 'deploy', '1.0.0', 'succeeded'],
        ['us-east', 'deploy', '1.1.0', 'failed'],
        ['us-east', 'rollback', '1.0.0', 'succeeded'],
      ],
    );
    t.notRegex(
      JSON.stringify([await records('postgres'), await records('object-store'), await records('web-ui')]),
      new RegExp(`${vcPassword}|${dbPassword}|PRIVATE KEY`),
      'no secret in the records',
    );
    await applyWithDeployComponents(t);
  },
);

test.serial('a release train deploys in dependency order, independent components in parallel, and stops dependents of a failure', async (t) => {
  const ok = await http<{ id: string; waves: string[][] }>('POST', '/api/v1/releases', {
    environment: 'production',
    components: { 'rt-web': '1.0.0', 'rt-api': '1.0.0', 'rt-db': '1.0.0', 'rt-cache': '1.0.0' },
    health: FAST_HEALTH,
    maxParallel: 4,
  });
  t.is(ok.status, 202, JSON.stringify(ok.body));
  t.deepEqual(ok.body.waves, [['rt-cache', 'rt-db'], ['rt-api'], ['rt-web']]);
  const o = await outcome(ok.body.id);
  t.true(o.ok, o.error);
  const first = async (c: string) => (await records(c)).find((x) => x.kind === 'deploy')!;
  const [db, cache, api, web] = await Promise.all(['rt-db', 'rt-cache', 'rt-api', 'rt-web'].map(first));
  t.true(db.started_at < cache.finished_at && cache.started_at < db.finished_at, 'rt-db and rt-cache ran at the same time');
  t.true(api.started_at >= db.finished_at && api.started_at >= cache.finished_at, 'rt-api waited for both');
  t.true(web.started_at >= api.finished_at, 'rt-web waited for rt-api');

  const bad = await http<{ id: string }>('POST', '/api/v1/releases', {
    environment: 'production',
    components: { 'rt-web': '1.1.0', 'rt-api': '1.1.0', 'rt-db': '1.1.0-bad', 'rt-cache': '1.1.0' },
    health: FAST_HEALTH,
  });
  const bo = await outcome(bad.body.id);
  t.false(bo.ok);
  t.regex(bo.error ?? '', /rt-api skipped \(rt-db failed\)/);
  t.regex(bo.error ?? '', /rt-web skipped \(rt-db failed\)/);
  t.regex(bo.error ?? '', /rt-db failed/);
  t.is((await records('rt-cache')).filter((x) => x.version === '1.1.0' && x.status === 'succeeded').length, 2, 'the independent component still went out');
  t.is((await records('rt-api')).filter((x) => x.version === '1.1.0').length, 0, 'the dependent never started');
});

test.serial('maxParallel bounds a release: with 1, independent components of a wave deploy one after another', async (t) => {
  const r = await http<{ id: string; waves: string[][] }>('POST', '/api/v1/releases', {
    environment: 'production',
    components: { 'rt-db': '1.2.0', 'rt-cache': '1.2.0' },
    health: FAST_HEALTH,
    maxParallel: 1,
  });
  t.is(r.status, 202, JSON.stringify(r.body));
  t.deepEqual(r.body.waves, [['rt-cache', 'rt-db']], 'independent: one wave');
  const o = await outcome(r.body.id);
  t.true(o.ok, o.error);
  const windows = await Promise.all(
    ['rt-db', 'rt-cache'].map(async (c) => {
      const legs = (await records(c)).filter((x) => x.version === '1.2.0' && x.kind === 'deploy');
      t.is(legs.length, 2, `${c}: a leg per region`);
      return { c, start: Math.min(...legs.map((x) => x.started_at.getTime())), end: Math.max(...legs.map((x) => x.finished_at.getTime())) };
    }),
  );
  const [first, second] = windows.sort((x, y) => x.start - y.start);
  t.true(second.start >= first.end, `${second.c} started ${second.start - first.end} ms after ${first.c} ended: one component at a time`);
});

test('the Sensu client speaks the documented API (against the STUB) and reports refusals clearly', async (t) => {
  const url = process.env.STACKWIRE_TEST_SENSU_URL!;
  const bad = new SensuClient({ url, apiKey: 'wrong-key', namespace: 'default' });
  const err = await t.throwsAsync(bad.silence('web', 'web-http', 'test', 60, 'tester'), { instanceOf: SensuError });
  t.regex(err.message, /answered 401/);
  const down = new SensuClient({ url: 'http://127.0.0.1:9', apiKey: 'k', namespace: 'default' });
  await t.throwsAsync(down.unsilence('a:b'), { message: /unreachable/ });
});

test.serial('a cancelled release train ends cancelled: its running deploy is cancelled and nothing after it starts', async (t) => {
  const r = await http<{ id: string }>('POST', '/api/v1/releases', {
    environment: 'production',
    components: { 'rt-db': '3.0.0', 'rt-api': '3.0.0' },
    health: FAST_HEALTH,
    maxParallel: 1,
  });
  t.is(r.status, 202, JSON.stringify(r.body));
  await eventually(async () => (await records('rt-db')).some((x) => x.version === '3.0.0'), 'the rt-db deploy of the release to start');
  const handle = (await temporalClient()).workflow.getHandle(r.body.id);
  await handle.cancel();
  await t.throwsAsync(handle.result());
  t.is((await handle.describe()).status.name, 'CANCELLED');
  t.deepEqual(
    (await records('rt-api')).filter((x) => x.version === '3.0.0'),
    [],
    'rt-api, which depends on rt-db, never started',
  );
});

test.serial('a release of everything changed since a tag picks the components whose repositories moved, in dependency order', async (t) => {
  // Component repositories as local git repositories (file://): rt-db and rt-api get commits after v1.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-since-'));
  const git = (cwd: string, ...args: string[]) =>
    spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd, encoding: 'utf8' });
  const repos: Record<string, string> = {};
  for (const name of ['rt-db', 'rt-cache', 'rt-api', 'rt-web']) {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    git(dir, 'init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(dir, 'README'), `${name}\n`);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'first');
    git(dir, 'tag', 'v1');
    if (name === 'rt-db' || name === 'rt-api') {
      fs.writeFileSync(path.join(dir, 'CHANGES'), 'a fix\n');
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', 'fix');
    }
    repos[name] = `file://${dir}`;
  }
  const sotDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-since-'));
  // Only file:// repositories here: the change detection clones them (no traffic leaves the machine).
  const defs = deployComponents(['rt-db', 'rt-cache', 'rt-api', 'rt-web'], repos);
  fs.writeFileSync(
    path.join(sotDir, 'since.yaml'),
    `environments:\n  - name: production\n${defs.replace(/^environments:\n/, '')}`.replace(
      'components:\n',
      'regions:\n  - name: us-east\n  - name: eu-west\ncomponents:\n',
    ),
  );
  const applied = await cli(['sot', 'apply', sotDir]);
  t.is(applied.code, 0, applied.stderr);
  t.deepEqual(
    (await http<{ components: { name: string }[] }>('GET', '/api/v1/components')).body.components.map((c) => c.name),
    ['rt-api', 'rt-cache', 'rt-db', 'rt-web'],
  );

  const plan = await cli(['release', '--since', 'v1', '--env', 'production', '--plan']);
  t.is(plan.code, 0, plan.stderr);
  await recordNewestFixture('release-selection-since-tag', 'WorkflowType = "releaseSelection"');
  t.regex(plan.stdout, /wave 1: rt-db@v1-1-g[0-9a-f]+\nwave 2: rt-api@v1-1-g[0-9a-f]+\n/);
  t.regex(plan.stdout, /unchanged since v1: rt-cache, rt-web/);
  const started = await http<{ id: string; versions: Record<string, string> }>('POST', '/api/v1/releases', {
    environment: 'production',
    sinceTag: 'v1',
    health: FAST_HEALTH,
  });
  t.is(started.status, 202);
  const o = await outcome(started.body.id);
  t.true(o.ok, o.error);
  const db = await records('rt-db');
  t.is(db[db.length - 1].version, started.body.versions['rt-db']);
  t.regex(started.body.versions['rt-db'], /^v1-1-g[0-9a-f]+$/);
  t.is((await records('rt-cache')).filter((x) => x.version.startsWith('v1')).length, 0, 'unchanged components are not deployed');
});

test.serial("a component's pipeline is read from its repository at a given commit and deploys it in waves, then runs its checks", async (t) => {
  // A real repository holding .stackwire/pipelines/deliver.yml, changed by a second commit.
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-component-repo-'));
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
  const pipelineAt = (label: string) => `name: deliver
inputs:
  version: {type: string, required: true}
steps:
  - id: build
    action: testkit.quick
    with: {value: "${label} \${{ component.name }} \${{ inputs.version }}"}
  - id: dry-run
    needs: [build]
    puppet: {environment: production, noop: true, version: "\${{ inputs.version }}"}
  - id: deploy
    needs: [dry-run]
    deploy: {environment: production, version: "\${{ inputs.version }}", health: {timeoutSeconds: 5, intervalSeconds: 1}}
  - id: verify
    needs: [deploy]
    check: {environment: production}
outputs:
  built: \${{ steps.build.outputs.value }}
  deployment: \${{ steps.deploy.outputs.deployment_id }}
`;
  fs.mkdirSync(path.join(repo, '.stackwire', 'pipelines'), { recursive: true });
  fs.writeFileSync(path.join(repo, '.stackwire', 'pipelines', 'deliver.yml'), pipelineAt('first'));
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'first');
  const first = git('rev-parse', 'HEAD').stdout.trim();
  fs.writeFileSync(path.join(repo, '.stackwire', 'pipelines', 'deliver.yml'), pipelineAt('second'));
  git('commit', '-qam', 'second');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-pipeline-'));
  fs.copyFileSync(EXAMPLE, path.join(dir, 'a-platform.yaml'));
  fs.writeFileSync(path.join(dir, 'b-deploy-tests.yaml'), deployComponents(['hello-api'], { 'hello-api': `file://${repo}` }));
  t.is((await cli(['sot', 'apply', dir])).code, 0);

  const env = { STACKWIRE_API_KEY: await releaseManagerKey() };
  const r = await cli(['pipeline', 'run', 'hello-api', 'deliver', 'version=7.1.0', '--ref', first, '--json'], env);
  t.is(r.code, 0, r.stderr + r.stdout);
  const v = JSON.parse(r.stdout) as {
    status: string;
    outputs: Record<string, string>;
    steps: { id: string; status: string; outputs: Record<string, unknown> }[];
  };
  t.is(v.status, 'succeeded');
  t.is(v.outputs.built, 'first hello-api 7.1.0', 'the pipeline as it was at the first commit, with the component from the source of truth');
  t.regex(v.outputs.deployment, /^deploy\.hello-api\.production-/);
  const recs = (await records('hello-api')).filter((x) => x.version === '7.1.0');
  t.deepEqual(
    recs.map((x) => [x.region, x.status]),
    [
      ['us-east', 'succeeded'],
      ['eu-west', 'succeeded'],
    ],
    'deployed canary first, then the rest',
  );
  const dry = v.steps.find((s) => s.id === 'dry-run')!;
  t.deepEqual(Object.keys(dry.outputs).sort(), ['eu-west', 'us-east']);
  t.is((dry.outputs['us-east'] as { noop: boolean }).noop, true, 'a puppet noop run per region before the deploy');
  const verify = v.steps.find((s) => s.id === 'verify')!;
  t.deepEqual(Object.keys(verify.outputs).sort(), ['eu-west', 'us-east']);
  t.is((verify.outputs['us-east'] as Record<string, { status: number }>)['hello-api-http'].status, 0);

  // Without --ref: the default branch, i.e. the second commit.
  const latest = await cli(['pipeline', 'run', 'hello-api', 'deliver', 'version=7.1.1', '--json'], env);
  t.is(latest.code, 0, latest.stderr);
  t.is((JSON.parse(latest.stdout) as { outputs: Record<string, string> }).outputs.built, 'second hello-api 7.1.1');
  // An unknown ref and a viewer are refused before anything runs.
  const bad = await cli(['pipeline', 'run', 'hello-api', 'deliver', 'version=1', '--ref', 'no-such-branch'], env);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /has no branch, tag or commit "no-such-branch"/);
  const op = await makeKey({ name: uniqueName('pl-op'), role: 'viewer' });
  const denied = await cli(['pipeline', 'run', 'hello-api', 'deliver', 'version=1'], { STACKWIRE_API_KEY: op.key });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /executions\.run needs the operator role/);
});

test.serial("a pipeline's release step runs a release train in dependency order", async (t) => {
  await applyWithDeployComponents(t);
  const started = await http<{ id: string }>(
    'POST',
    '/api/v1/pipelines/runs',
    {
      files: [
        {
          path: 'train.yml',
          content: `name: train
steps:
  - id: ship
    release: {environment: production, components: {rt-api: "6.0.0", rt-db: "6.0.0"}, health: {timeoutSeconds: 5, intervalSeconds: 1}}
`,
        },
      ],
    },
    as(await releaseManagerKey()),
  );
  t.is(started.status, 202, JSON.stringify(started.body));
  const v = await pipelineRunEnded(started.body.id, 180_000);
  t.is(v.status, 'succeeded', v.error);
  t.deepEqual(v.steps[0].outputs.waves, [['rt-db'], ['rt-api']]);
  const api = (await records('rt-api')).find((x) => x.version === '6.0.0')!;
  const db = (await records('rt-db')).filter((x) => x.version === '6.0.0');
  t.true(
    db.every((x) => api.started_at >= x.finished_at),
    'rt-api after rt-db',
  );
});

/** GitHub's own example deliveries (@octokit/webhooks-examples): github.com and a GitHub Enterprise Server. */
function examplePush(flavour: 'api.github.com' | 'ghes-35', pick: (p: Record<string, unknown>) => boolean): Record<string, unknown> {
  const all = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'node_modules', '@octokit', 'webhooks-examples', flavour, 'index.json'), 'utf8')) as {
    name: string;
    examples: Record<string, unknown>[];
  }[];
  return structuredClone(all.find((e) => e.name === 'push')!.examples.find(pick)!);
}

async function deliver(event: string, delivery: string, payload: unknown, sign: 'ok' | 'wrong' | 'none' = 'ok') {
  const body = JSON.stringify(payload);
  const secret = sign === 'wrong' ? 'not-the-secret-at-all-0123456789' : process.env.STACKWIRE_GITHUB_WEBHOOK_SECRET!;
  const res = await fetch(`${config.api.url}/api/v1/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': delivery,
      ...(sign === 'none' ? {} : { 'x-hub-signature-256': await signWebhook(secret, body) }),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test.serial(
  "a signed GitHub push starts the pushed component's pipelines at the pushed commit; a redelivery starts nothing; unsigned or wrong is refused",
  async (t) => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-pushed-repo-'));
    const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
    fs.mkdirSync(path.join(repo, '.stackwire', 'pipelines'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, '.stackwire', 'pipelines', 'ci.yml'),
      `name: ci
on:
  push:
    branches: [main, "release/**"]
steps:
  - id: build
    action: testkit.quick
    with: {value: "\${{ component.name }} at \${{ trigger.commit }} by \${{ trigger.pusher }}"}
outputs:
  built: \${{ steps.build.outputs.value }}
`,
    );
    fs.writeFileSync(path.join(repo, '.stackwire', 'pipelines', 'nightly.yml'), 'name: nightly\nsteps:\n  - id: n\n    action: testkit.quick\n');
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'pipelines');
    const sha = git('rev-parse', 'HEAD').stdout.trim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-push-'));
    fs.copyFileSync(EXAMPLE, path.join(dir, 'a-platform.yaml'));
    fs.writeFileSync(path.join(dir, 'b-deploy-tests.yaml'), deployComponents(['hello-api'], { 'hello-api': `file://${repo}` }));
    t.is((await cli(['sot', 'apply', dir])).code, 0);

    // A real github.com push delivery, for our repository and commit.
    const payload = examplePush('api.github.com', (p) => p.deleted === false && String(p.ref).startsWith('refs/heads/'));
    Object.assign(payload, { ref: 'refs/heads/main', after: sha });
    Object.assign(payload.repository as object, { clone_url: `file://${repo}` });
    const delivery = `d-${Math.random().toString(36).slice(2, 10)}`;
    t.is((await deliver('push', delivery, payload, 'none')).status, 401, 'unsigned');
    const wrong = await deliver('push', delivery, payload, 'wrong');
    t.is(wrong.status, 401, 'signed with another secret');
    t.is((wrong.body.error as { code: string }).code, 'bad_signature');
    const r = await deliver('push', delivery, payload);
    t.is(r.status, 202, JSON.stringify(r.body));
    t.deepEqual(r.body.components, ['hello-api']);
    const push = await (await temporalClient()).workflow.getHandle<typeof githubPush>(String(r.body.workflowId)).result();
    t.deepEqual(push.started, [`push.${delivery}.hello-api.ci`]);
    t.deepEqual(
      push.skipped.map((s) => s.pipeline),
      ['nightly'],
      'a pipeline without on: push is not run by a push',
    );
    const run = await pipelineRunEnded(`push.${delivery}.hello-api.ci`);
    t.is(run.status, 'succeeded');
    t.is(run.outputs.built, `hello-api at ${sha} by ${(payload.pusher as { name: string }).name}`);
    // The run traces back to the delivery: trigger github.push.<delivery> → githubPush → this run.
    const traced = await cli(['trace', `push.${delivery}.hello-api.ci`, '--json']);
    t.is(traced.code, 0, traced.stderr);
    const trace = JSON.parse(traced.stdout) as TraceResponse;
    t.like(trace.trigger, { id: `github.push.${delivery}`, type: 'github.push', source: 'webhook github', deliveryId: delivery });
    t.like(trace.runs[0], { workflowId: `github-push.${delivery}`, kind: 'github-push', status: 'COMPLETED' });
    t.like(trace.runs[0].children?.[0], { workflowId: `push.${delivery}.hello-api.ci`, status: 'COMPLETED' });
    // A redelivery (same delivery id) starts nothing new.
    const again = await deliver('push', delivery, payload);
    t.is(again.status, 200);
    t.true(again.body.duplicate);
    // Refusals are in the audit trail.
    const audit = await http<{ entries: { result: string; target: string }[] }>('GET', '/api/v1/audit?action=webhooks.github&limit=50');
    t.true(audit.body.entries.filter((e) => e.result === 'unauthenticated' && e.target.includes(delivery)).length >= 2);

    // ping; a deleted branch; a branch no pipeline asks for; a GitHub Enterprise Server push.
    t.deepEqual((await deliver('ping', `p-${delivery}`, { zen: 'Keep it logically awesome.' })).body, { pong: true, delivery: `p-${delivery}` });
    const deleted = examplePush('api.github.com', (p) => p.deleted === true);
    Object.assign(deleted.repository as object, { clone_url: `file://${repo}` });
    t.regex(String((await deliver('push', `x-${delivery}`, deleted)).body.ignored), /was deleted/);
    const feature = { ...structuredClone(payload), ref: 'refs/heads/feature' };
    const f = await deliver('push', `f-${delivery}`, feature);
    const fr = await (await temporalClient()).workflow.getHandle<typeof githubPush>(String(f.body.workflowId)).result();
    t.deepEqual(fr.started, []);
    t.regex(fr.skipped.find((s) => s.pipeline === 'ci')!.reason, /branch feature is not in its branches \(main, release\/\*\*\)/);
    const ghes = examplePush('ghes-35', () => true);
    Object.assign(ghes, { ref: 'refs/heads/release/2026.12', after: sha, deleted: false });
    Object.assign(ghes.repository as object, { clone_url: `file://${repo}` });
    const g = await deliver('push', `g-${delivery}`, ghes);
    t.is(g.status, 202, JSON.stringify(g.body));
    const gr = await (await temporalClient()).workflow.getHandle<typeof githubPush>(String(g.body.workflowId)).result();
    t.deepEqual(gr.started, [`push.g-${delivery}.hello-api.ci`], 'a GHES push to a release/** branch');
  },
);

test.serial(
  "a deploy leg whose worker is killed mid-action is lost (its script's group killed) and waits for an operator; marked succeeded, it goes on; its worker killed mid-Puppet, Puppet runs again and converges once",
  async (t) => {
    // A region only this test's workers serve, and a component whose deploy action is a long sleeper.
    const region = `lostleg-${crypto.randomBytes(3).toString('hex')}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-lostleg-'));
    fs.chmodSync(dir, 0o777); // the script (run as the run user) writes its pids here
    const pidfile = path.join(dir, 'pids');
    const start = (name: string) => regionWorker(region, dir, name);
    let first: Awaited<ReturnType<typeof start>> | undefined;
    let second: Awaited<ReturnType<typeof start>> | undefined;
    let third: Awaited<ReturnType<typeof start>> | undefined;
    let pids: number[] = [];
    try {
      const sot = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-lostleg-'));
      fs.copyFileSync(EXAMPLE, path.join(sot, 'a-platform.yaml'));
      fs.writeFileSync(
        path.join(sot, 'b-lost-leg.yaml'),
        [
          'regions:',
          `  - name: ${region}`,
          'components:',
          '  - name: lost-leg',
          '    repository: https://ghe.example.com/test/lost-leg.git',
          '    platform: docker',
          '    deploy_params:',
          `      pidfile: ${pidfile}`,
          '      seconds: 300',
          '    puppet_role: role::lost_leg',
          '    actions:',
          '      deploy: testkit.sleep',
          '    placements:',
          `      production: [${region}]`,
          '',
        ].join('\n'),
      );
      const applied = await cli(['sot', 'apply', sot]);
      t.is(applied.code, 0, applied.stderr);
      // No worker serves the region yet: refused at once, naming it, instead of waiting for one.
      const unserved = await deploy({ component: 'lost-leg', version: '1.0.0' });
      t.is(unserved.status, 409, JSON.stringify(unserved.body));
      t.is(unserved.body.error?.code, 'no_worker');
      t.regex(unserved.body.error?.message ?? '', new RegExp(`no worker serves ${region} \\(task queue [^)]+\\); start one with .*--region ${region}`));
      const twice = await deploy({ component: 'lost-leg', version: '1.0.0', regions: [region, region] });
      t.is(twice.status, 400);
      t.regex(twice.body.error?.message ?? '', new RegExp(`regions lists ${region} twice`));
      first = await start('first');
      // Served once the server has seen the new worker poll.
      const r = await eventually(
        async () => {
          const d = await deploy({ component: 'lost-leg', version: '1.0.0' });
          return d.status === 409 && d.body.error?.code === 'no_worker' ? undefined : d;
        },
        'the new worker to be seen',
        60_000,
      );
      t.is(r.status, 202, JSON.stringify(r.body));
      await eventually(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').includes(' '), 'the deploy action to start');
      pids = fs.readFileSync(pidfile, 'utf8').trim().split(' ').map(Number);
      fs.rmSync(pidfile);
      first.child.kill('SIGKILL');
      await gone(pids, 'the deploy action to die with its worker');
      second = await start('second');
      const [{ id: recordId }] = (await pool.query<{ id: string }>("SELECT id FROM deployments WHERE component = 'lost-leg'")).rows;
      const executionId = `${recordId}.action`;
      const lost = await eventually(
        async () => {
          const e = (await http<{ status: string; error: string | null }>('GET', `/api/v1/executions/${executionId}`)).body;
          return e.status === 'lost' ? e : undefined;
        },
        'the deploy action to be lost',
        90_000,
      );
      t.regex(lost.error ?? '', /worker lost during attempt 1/);
      t.like((await records('lost-leg'))[0], { status: 'running' }, 'the leg waits: neither failed nor rolled back');
      const decided = await cli(['execution', 'resolve', executionId, 'succeeded', '--reason', 'the artifact was in place', '--json']);
      t.is(decided.code, 0, decided.stderr);
      t.like(JSON.parse(decided.stdout), { id: executionId, decision: 'succeeded' });
      // The leg goes on to Puppet; its worker is killed mid-run too: Puppet converges, so it runs again
      // by itself on the next worker, and what it manages converges once.
      const state = path.join(config.dataDir, 'deployments', 'production', region, 'lost-leg');
      const starts = () => (fs.existsSync(path.join(state, 'puppet-runs')) ? fs.readFileSync(path.join(state, 'puppet-runs'), 'utf8').trim().split('\n') : []);
      await eventually(() => starts().length === 1, 'puppet apply to start', 120_000);
      const puppetPids = spawnSync('pgrep', ['-f', `${state}/puppet-runs`], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
      second.child.kill('SIGKILL');
      await gone(puppetPids, 'the Puppet run to die with its worker');
      third = await start('third');
      const o = await outcome(r.body.id);
      t.true(o.ok, o.error);
      t.deepEqual(starts(), ['started', 'started'], 'Puppet ran twice: killed once, then again');
      t.is(fs.readFileSync(path.join(state, 'converged'), 'utf8'), 'converged\n', 'and converged once');
      const recs = await records('lost-leg');
      t.is(recs.length, 1, 'one deployment record');
      t.like(recs[0], { status: 'succeeded' });
      const e = (await http<{ status: string; error: string }>('GET', `/api/v1/executions/${executionId}`)).body;
      t.is(e.status, 'succeeded');
      t.regex(e.error, /marked succeeded by .+: the artifact was in place/);
      t.false(fs.existsSync(pidfile), 'the deploy action was not run again');
    } finally {
      first?.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
      await third?.stop(2000);
      for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    }
  },
);

test.serial("a deploy started by a push records its trigger; delivery metrics count it for the commit's author, its lead time from the commit", async (t) => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-shipped-repo-'));
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { cwd: repo, encoding: 'utf8' });
  fs.mkdirSync(path.join(repo, '.stackwire', 'pipelines'), { recursive: true });
  fs.writeFileSync(
    path.join(repo, '.stackwire', 'pipelines', 'ship.yml'),
    `name: ship
on:
  push:
    branches: [main]
steps:
  - id: deploy
    deploy: {environment: production, version: "\${{ trigger.commit }}", health: {timeoutSeconds: 5, intervalSeconds: 1}}
`,
  );
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'ship');
  const sha = git('rev-parse', 'HEAD').stdout.trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-sot-ship-'));
  fs.copyFileSync(EXAMPLE, path.join(dir, 'a-platform.yaml'));
  fs.writeFileSync(path.join(dir, 'b-deploy-tests.yaml'), deployComponents(['hello-api'], { 'hello-api': `file://${repo}` }));
  t.is((await cli(['sot', 'apply', dir])).code, 0);

  // The commit was made two hours before the push; its author is not the pusher.
  const committedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * 3_600_000).toISOString();
  const payload = examplePush('api.github.com', (p) => p.deleted === false && String(p.ref).startsWith('refs/heads/'));
  Object.assign(payload, { ref: 'refs/heads/main', after: sha });
  Object.assign(payload.repository as object, { clone_url: `file://${repo}` });
  payload.head_commit = {
    ...(payload.head_commit as object),
    id: sha,
    timestamp: committedAt,
    author: { name: 'Dana Dev', email: 'dana@example.com', username: 'dana-dev' },
  };
  const pusher = (payload.pusher as { name: string }).name;
  const since = new Date().toISOString();
  const delivery = `ship-${Math.random().toString(36).slice(2, 10)}`;
  t.is((await deliver('push', delivery, payload)).status, 202);
  const run = await eventually(
    async () => {
      const v = (await http<{ status: string; error?: string }>('GET', `/api/v1/pipelines/runs/push.${delivery}.hello-api.ship`)).body;
      return v.status === 'running' || v.status === undefined ? undefined : v;
    },
    'the pushed deploy pipeline to end',
    180_000,
  );
  t.is(run.status, 'succeeded', run.error);

  const records = (await http<DeploymentListResponse>('GET', '/api/v1/deployments?component=hello-api&environment=production&limit=10')).body.deployments;
  const legs = records.filter((r) => r.version === sha);
  t.is(legs.length, 2, 'one record per region');
  t.true(
    legs.every((r) => r.triggerId === `github.push.${delivery}` && r.actor === `github:${pusher}`),
    'each names the push',
  );
  const m = (await http<DeliveryMetricsResponse>('GET', `/api/v1/metrics/delivery?since=${since}&environment=production&component=hello-api&deploys=true`))
    .body;
  t.is(m.deploys?.length, 1, JSON.stringify(m.deploys));
  const d = m.deploys![0];
  t.like(d, {
    component: 'hello-api',
    version: sha,
    status: 'succeeded',
    regions: 2,
    developer: 'dana-dev',
    actor: `github:${pusher}`,
    triggerId: `github.push.${delivery}`,
    commit: sha,
    committedAt,
    leadTimeFrom: 'commit',
  });
  t.true(Math.abs(d.leadTimeSeconds! - (Date.parse(d.finishedAt!) - Date.parse(committedAt)) / 1000) < 0.001, 'from the commit to the end of the deploy');
  t.like(m.totals, { deploys: 1, succeeded: 1, developers: 1, leadTime: { count: 1, fromCommit: 1, fromVersion: 0 } });
  t.deepEqual(
    m.groups.map((g) => g.key),
    ['dana-dev'],
  );
});

test.serial(
  "health checks every second wait in one heartbeating activity: the leg's history stays short, and its silences last as long as the leg may run",
  async (t) => {
    const sensuBefore = ((await (await fetch(`${process.env.STACKWIRE_TEST_SENSU_URL}/_stub/requests`)).json()) as unknown[]).length;
    // Unhealthy for 6 s, checked every second, with a deadline of an hour: the old loop wrote ~5 events a second for as long.
    const r = await deploy({ component: 'hello-api', version: '1.0.1-slow', regions: ['us-east'], health: { timeoutSeconds: 3600, intervalSeconds: 1 } });
    t.is(r.status, 202, JSON.stringify(r.body));
    const o = await outcome(r.body.id);
    t.true(o.ok, o.error);
    const leg = (o.result?.regions as { healthAttempts: number }[])[0];
    t.true(leg.healthAttempts >= 4, `several passes before healthy: ${leg.healthAttempts}`);
    const { rows } = await pool.query<{ workflow_id: string; run_id: string }>(
      "SELECT workflow_id, run_id FROM deployments WHERE component = 'hello-api' AND version = '1.0.1-slow' AND kind = 'deploy'",
    );
    t.is(rows.length, 1);
    const history = await (await temporalClient()).workflow.getHandle(rows[0].workflow_id, rows[0].run_id).fetchHistory();
    const events = history.events ?? [];
    const scheduled = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
    t.deepEqual(
      scheduled.filter((n) => n === 'awaitHealthy' || n === 'runChecks'),
      ['awaitHealthy'],
      'one activity waited, whatever the number of passes',
    );
    t.is(events.filter((e) => e.timerStartedEventAttributes).length, 0, 'no timer per pass');
    t.true(events.length < 80, `${events.length} events for ${leg.healthAttempts} passes`);
    await recordFixture('region-deploy-health-in-activity', rows[0].workflow_id, rows[0].run_id);
    // The silence lasts as long as the leg may run (common/deploy.ts silenceSeconds): the deploy action's
    // timeout times its attempts, Puppet's limit, the deadline plus a pass over the checks, a margin.
    const action = (await http<{ timeoutSeconds: number; maxAttempts: number }>('GET', '/api/v1/actions/deploykit.deploy_artifact')).body;
    const put = (
      (await (await fetch(`${process.env.STACKWIRE_TEST_SENSU_URL}/_stub/requests`)).json()) as { method: string; path: string; body: { expire?: number } }[]
    )
      .slice(sensuBefore)
      .find((x) => x.method === 'PUT' && x.path.endsWith(encodeURIComponent('entity:hello-api-production-us-east:hello-api-http')));
    t.is(put?.body.expire, action.timeoutSeconds * Math.max(1, action.maxAttempts) + 2 * 15 * 60 + 3600 + 10 + 5 * 60);
  },
);
