/** The source of truth: `stackwire sot apply` and the component commands/endpoints, against real Postgres. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { PROJECT_ROOT } from '../lib/config.js';
import { cli, dbPool, http } from './helpers.js';

const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'sot', 'collab-platform.yaml');
const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'sot');
const pool = dbPool();
test.after.always(async () => {
  await pool.end();
});

async function counts(): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ c: number; d: number; p: number }>('SELECT (SELECT count(*)::int FROM components) c, (SELECT count(*)::int FROM dependencies) d, (SELECT count(*)::int FROM placements) p');
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
  const api = await http<{ error: { code: string; details: { line: number }[] } }>('POST', '/api/v1/sot/apply', { files: [{ path: 'x.yaml', content: 'components: [' }] });
  t.is(api.status, 400);
  t.is(api.body.error.code, 'invalid_definitions');
  t.is(api.body.error.details[0].line, 1);
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
  const edited = fs.readFileSync(EXAMPLE, 'utf8').replace('owner: identity-team\n    puppet_role: role::auth_service', 'owner: security-team\n    puppet_role: role::auth_service');
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
  const gw = await http<{ platform: string; dependsOn: string[]; placements: Record<string, string[]>; checks: { command: string }[]; puppetRole: string }>('GET', '/api/v1/components/api-gateway');
  t.is(gw.body.platform, 'vsphere');
  t.deepEqual(gw.body.placements, { production: ['eu-west', 'us-east'], staging: ['us-east'] });
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
