/**
 * Delivery metrics (GET /api/v1/metrics/delivery, `stackwire metrics delivery`) over a seeded history
 * with known timestamps (test/delivery-history.ts: an environment and components of this file's own),
 * every figure checked against values worked out by hand below — through the API, the CLI's --json
 * and its text chart; bad input refused with a clear error; a signed push records its commit's author
 * and timestamp for them. (A push that really deploys is followed to these figures in sot.test.ts.)
 */
import crypto from 'node:crypto';
import test from 'ava';
import { sign as signWebhook } from '@octokit/webhooks-methods';
import type { DeliveryFigures, DeliveryMetricsResponse, TriggerRecord } from '../common/api-types.js';
import { API, as, cli, config, dbPool, http, makeKey, uniqueName } from './helpers.js';
import { SINCE, UNTIL, removeHistory, seedHistory } from './delivery-history.js';

const pool = dbPool();
const env = uniqueName('dm');
const [api, web, db] = ['api', 'web', 'db'].map((c) => `${env}-${c}`);
const range = `since=${SINCE}&until=${UNTIL}&environment=${env}`;

test.before(async () => {
  await seedHistory(pool, env);
});
test.after.always(async () => {
  await removeHistory(pool, env).catch(() => undefined);
  await pool.end();
});

const H = 3600;
const M = 60;
/** A figure set: deploys, succeeded, failed; lead times (from commit, from version) and restore times in seconds, unrestored failures. */
function fig(o: { ok: number; failed: number; lead: [number[], number, number]; restore: number[]; notRestored: number; days?: number }): DeliveryFigures {
  const deploys = o.ok + o.failed;
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
  };
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const [lead, fromCommit, fromVersion] = o.lead;
  return {
    deploys,
    succeeded: o.ok,
    failed: o.failed,
    deploysPerDay: deploys / (o.days ?? 3),
    changeFailureRate: deploys ? o.failed / deploys : null,
    leadTime: { count: lead.length, medianSeconds: median(lead), meanSeconds: mean(lead), fromCommit, fromVersion },
    timeToRestore: { count: o.restore.length, medianSeconds: median(o.restore), meanSeconds: mean(o.restore), notRestored: o.notRestored },
  };
}

// Worked out by hand from the history (times in its comments):
// lead times: d1 24h10m (from api 1.1's first record, in staging), d3 1h10m (from push2's commit), d6 10m (from its own first leg);
// restore times: d2 → d3 3h6m, d4 → d6 23h2m, d5 → d6 21h8m, d7 → d10 6h5m (d10 is after the window); d8 never.
const LEAD = { d1: 24 * H + 10 * M, d3: H + 10 * M, d6: 10 * M };
const RESTORE = { d2: 3 * H + 6 * M, d4: 23 * H + 2 * M, d5: 21 * H + 8 * M, d7: 6 * H + 5 * M };

const TOTALS = {
  // d1 d3 d6 succeeded; d2 d4 d5 d7 d8 failed; d9 cancelled and d12 running are not counted, nor d0, d0b (before) and d10 (after).
  ...fig({ ok: 3, failed: 5, lead: [[LEAD.d1, LEAD.d3, LEAD.d6], 1, 2], restore: [RESTORE.d2, RESTORE.d4, RESTORE.d5, RESTORE.d7], notRestored: 1 }),
  developers: 3,
  components: 3,
  deploysPerDeveloperPerDay: 8 / 3 / 3,
  running: 1,
  cancelled: 1,
};
const PER_DAY = [
  { day: '2025-03-01', deploys: 3, failed: 1 },
  { day: '2025-03-02', deploys: 2, failed: 2 },
  { day: '2025-03-03', deploys: 3, failed: 2 },
];
const BY_DEVELOPER = [
  // alice: d1 ok, d7 and d8 failed; carol is the author of the pushes behind d2 and d3 (their actor is github:pusher).
  { key: 'alice', ...fig({ ok: 1, failed: 2, lead: [[LEAD.d1], 0, 1], restore: [RESTORE.d7], notRestored: 1 }) },
  { key: 'bob', ...fig({ ok: 1, failed: 2, lead: [[LEAD.d6], 0, 1], restore: [RESTORE.d4, RESTORE.d5], notRestored: 0 }) },
  { key: 'carol', ...fig({ ok: 1, failed: 1, lead: [[LEAD.d3], 1, 0], restore: [RESTORE.d2], notRestored: 0 }) },
];
const BY_COMPONENT = [
  { key: api, ...fig({ ok: 2, failed: 2, lead: [[LEAD.d1, LEAD.d3], 1, 1], restore: [RESTORE.d2, RESTORE.d7], notRestored: 0 }) },
  { key: web, ...fig({ ok: 1, failed: 2, lead: [[LEAD.d6], 0, 1], restore: [RESTORE.d4, RESTORE.d5], notRestored: 0 }) },
  { key: db, ...fig({ ok: 0, failed: 1, lead: [[], 0, 0], restore: [], notRestored: 1 }) },
];

function expected(by: 'developer' | 'component'): DeliveryMetricsResponse {
  return {
    environment: env,
    since: '2025-03-01T00:00:00.000Z',
    until: '2025-03-04T00:00:00.000Z',
    days: 3,
    by,
    components: null,
    totals: TOTALS,
    perDay: PER_DAY,
    groups: by === 'developer' ? BY_DEVELOPER : BY_COMPONENT,
  };
}

test('every figure through the API, per developer and per component', async (t) => {
  const dev = await http<DeliveryMetricsResponse>('GET', `/api/v1/metrics/delivery?${range}&by=developer`);
  t.is(dev.status, 200, JSON.stringify(dev.body));
  t.deepEqual(dev.body, expected('developer'));
  const comp = await http<DeliveryMetricsResponse>('GET', `/api/v1/metrics/delivery?${range}&by=component`);
  t.deepEqual(comp.body, expected('component'));
  // The default grouping is per developer; a viewer may read them.
  const viewer = await makeKey({ name: uniqueName('dm-viewer'), role: 'viewer' });
  t.deepEqual((await http<DeliveryMetricsResponse>('GET', `/api/v1/metrics/delivery?${range}`, undefined, as(viewer.key))).body, expected('developer'));

  // Each deploy with what each figure took from it, newest first.
  const listed = await http<DeliveryMetricsResponse>('GET', `/api/v1/metrics/delivery?${range}&deploys=true`);
  const rows = listed.body.deploys!.map((d) => [
    d.id.slice(d.id.lastIndexOf('-') + 1),
    d.status,
    d.developer,
    d.regions,
    d.leadTimeSeconds,
    d.leadTimeFrom,
    d.timeToRestoreSeconds,
  ]);
  t.deepEqual(rows, [
    ['d12', 'running', 'carol', 1, null, null, null],
    ['d8', 'failed', 'alice', 1, null, null, null],
    ['d7', 'failed', 'alice', 1, null, null, RESTORE.d7],
    ['d6', 'succeeded', 'bob', 2, LEAD.d6, 'version', null],
    ['d9', 'cancelled', 'alice', 1, null, null, null],
    ['d5', 'failed', 'bob', 1, null, null, RESTORE.d5],
    ['d4', 'failed', 'bob', 2, null, null, RESTORE.d4],
    ['d3', 'succeeded', 'carol', 2, LEAD.d3, 'commit', null],
    ['d2', 'failed', 'carol', 1, null, null, RESTORE.d2],
    ['d1', 'succeeded', 'alice', 2, LEAD.d1, 'version', null],
  ]);
  t.is(listed.body.deploysOmitted, 0);
  t.like(
    listed.body.deploys!.find((d) => d.id.endsWith('-d3')),
    {
      actor: 'github:pusher',
      triggerId: `github.push.${env}-push2`,
      commit: 'c0ffee02',
      committedAt: '2025-03-01T15:00:00.000Z',
      startedAt: '2025-03-01T16:00:00.000Z',
      finishedAt: '2025-03-01T16:10:00.000Z',
    },
  );
  t.like(
    listed.body.deploys!.find((d) => d.id.endsWith('-d7')),
    { restoredAt: '2025-03-04T02:10:00.000Z' },
  );
});

test('a component filter: only its deploys, and restores looked for among them', async (t) => {
  const r = await http<DeliveryMetricsResponse>('GET', `/api/v1/metrics/delivery?${range}&component=${web},${db}&by=component`);
  t.is(r.status, 200, JSON.stringify(r.body));
  t.deepEqual(r.body.components, [web, db]);
  t.deepEqual(r.body.totals, {
    ...fig({ ok: 1, failed: 3, lead: [[LEAD.d6], 0, 1], restore: [RESTORE.d4, RESTORE.d5], notRestored: 1 }),
    developers: 2,
    components: 2,
    deploysPerDeveloperPerDay: 4 / 2 / 3,
    running: 1,
    cancelled: 0,
  });
  t.deepEqual(r.body.groups, BY_COMPONENT.slice(1));
  t.deepEqual(r.body.perDay, [
    { day: '2025-03-01', deploys: 0, failed: 0 },
    { day: '2025-03-02', deploys: 2, failed: 2 },
    { day: '2025-03-03', deploys: 2, failed: 1 },
  ]);
  // A window of a day and a half touching two UTC days: the deploys started in it, per day per its length.
  const half = await http<DeliveryMetricsResponse>(
    'GET',
    `/api/v1/metrics/delivery?since=2025-03-02T12:00:00Z&until=2025-03-04T00:00:00Z&environment=${env}&component=${web}`,
  );
  t.is(half.body.days, 1.5);
  t.deepEqual(half.body.totals, {
    ...fig({ ok: 1, failed: 0, lead: [[LEAD.d6], 0, 1], restore: [], notRestored: 0, days: 1.5 }),
    developers: 1,
    components: 1,
    deploysPerDeveloperPerDay: 1 / 1 / 1.5,
    running: 0,
    cancelled: 0,
  });
  t.deepEqual(
    half.body.perDay.map((d) => d.day),
    ['2025-03-02', '2025-03-03'],
  );
});

test('the CLI: --json is the API answer; the text has the figures and the bar charts', async (t) => {
  const args = ['metrics', 'delivery', '--since', SINCE, '--until', UNTIL, '--env', env];
  const json = await cli([...args, '--json']);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout), expected('developer'));
  const byComponent = await cli([...args, '--by', 'component', '--json']);
  t.deepEqual(JSON.parse(byComponent.stdout), expected('component'));

  const text = await cli(args);
  t.is(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n').map((l) => l.trimEnd());
  const after = (heading: string, n: number) => lines.slice(lines.indexOf(heading) + 1, lines.indexOf(heading) + 1 + n).map((l) => l.split(/\s{2,}/));
  t.is(lines[0], `Delivery metrics of ${env}: 2025-03-01T00:00:00.000Z to 2025-03-04T00:00:00.000Z (3 days)`);
  t.deepEqual(
    lines.slice(1, 7).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    [
      ['Deploys', '8 (3 succeeded, 5 failed), 2.67 a day'],
      ['Developers', '3, 0.89 deploys per developer per day'],
      ['Change failure rate', '62.5% (5 of 8)'],
      // median 1h10m (d3), mean (24h10m + 1h10m + 10m) / 3 = 8h30m
      ['Lead time', "median 1h 10m, mean 8h 30m (3 deploys: 1 from the commit, 2 from the version's first record)"],
      // median (6h5m + 21h8m) / 2 = 13h36m30s, mean (3h6m + 6h5m + 21h8m + 23h2m) / 4 = 13h20m15s
      ['Time to restore', 'median 13h 36m, mean 13h 20m (4 restored, 1 not yet)'],
      ['Not counted', '1 running, 1 cancelled'],
    ],
  );
  t.deepEqual(after('Deploys per day (█ succeeded, ░ failed)', 3), [
    ['2025-03-01', '██░', '3'],
    ['2025-03-02', '░░', '2'],
    ['2025-03-03', '█░░', '3'],
  ]);
  t.deepEqual(after('Deploys per developer', 4), [
    ['DEVELOPER', 'DEPLOYS', 'CFR', 'LEAD TIME', 'TIME TO RESTORE'],
    ['alice', '█░░', '3', '66.7%', '1d', '6h 5m'],
    ['bob', '█░░', '3', '66.7%', '10m', '22h 5m'],
    ['carol', '█░', '2', '50.0%', '1h 10m', '3h 6m'],
  ]);
  const comp = (await cli([...args, '--by', 'component'])).stdout.split('\n').map((l) => l.trimEnd());
  const at = comp.indexOf('Deploys per component');
  t.deepEqual(
    comp.slice(at + 2, at + 5).map((l) => l.split(/\s{2,}/)),
    [
      [api, '██░░', '4', '50.0%', '12h 40m', '4h 35m'],
      [web, '█░░', '3', '66.7%', '10m', '22h 5m'],
      [db, '░', '1', '100.0%', '-', '-'],
    ],
  );
  // --deploys lists them, with what each figure took.
  const listed = await cli([...args, '--deploys']);
  t.regex(listed.stdout, new RegExp(`^2025-03-01T16:00:00.000Z\\s+${api}\\s+1\\.3\\s+carol\\s+succeeded\\s+1h 10m\\s+commit\\s+-$`, 'm'));
  t.regex(listed.stdout, new RegExp(`^2025-03-03T21:00:00.000Z\\s+${db}\\s+3\\.0\\s+alice\\s+failed\\s+-\\s+-\\s+not yet$`, 'm'));
});

test('a window with no deploys: a relative --since, every day at zero', async (t) => {
  const r = await cli(['metrics', 'delivery', '--since', '30d', '--env', env, '--json']);
  t.is(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout) as DeliveryMetricsResponse;
  t.true(Math.abs(m.days - 30) < 0.01, `30 days back from now (${m.days})`);
  t.like(m.totals, { deploys: 0, changeFailureRate: null, deploysPerDeveloperPerDay: null, leadTime: { count: 0, medianSeconds: null } });
  t.true(m.perDay.length >= 30 && m.perDay.every((d) => d.deploys === 0));
  const text = await cli(['metrics', 'delivery', '--since', '30d', '--env', env]);
  t.regex(text.stdout, /^Lead time: +- \(no succeeded deploy\)$/m);
  t.regex(text.stdout, /^Deploys per developer\n\(no deploys\)$/m);
});

test('bad input is refused, saying what and how to fix it', async (t) => {
  const base = ['metrics', 'delivery', '--env', env];
  const since = await cli([...base, '--since', 'yesterday']);
  t.is(since.code, 2);
  t.regex(
    since.stderr,
    /--since "yesterday" is not a point in time: give a date \(2026-12-01, midnight UTC\), an ISO 8601 time .* or a duration back from now \(30d, 12h, 45m\)/,
  );
  t.is((await cli([...base, '--since', '2025-02-30'])).code, 2, 'an impossible date');
  const by = await cli([...base, '--by', 'team']);
  t.is(by.code, 2);
  t.regex(by.stderr, /--by "team" is not a grouping: use developer or component/);
  const envBad = await cli(['metrics', 'delivery', '--env', 'Prod!']);
  t.is(envBad.code, 2);
  t.regex(envBad.stderr, /--env "Prod!" is not an environment name/);
  const empty = await cli([...base, '--since', '2025-03-04', '--until', '2025-03-01']);
  t.is(empty.code, 2, 'the API says 400');
  t.regex(empty.stderr, /the window is empty: since \(2025-03-04T00:00:00.000Z\) must be before until \(2025-03-01T00:00:00.000Z\)/);

  const get = (q: string) => http<{ error: { code: string; message: string } }>('GET', `/api/v1/metrics/delivery?${q}`);
  const badBy = await get(`environment=${env}&by=team`);
  t.is(badBy.status, 400);
  t.regex(badBy.body.error.message, /query\.by: must be one of "developer", "component"/);
  const badSince = await get(`environment=${env}&since=last-week`);
  t.is(badSince.status, 400);
  t.regex(badSince.body.error.message, /since "last-week" is not a point in time: give a date/);
  const long = await get(`environment=${env}&since=2024-01-01&until=2025-03-01`);
  t.is(long.status, 400);
  t.regex(long.body.error.message, /is longer than 366 days; ask for several shorter windows/);
  const unknown = await get(`environment=${env}&team=x`);
  t.is(unknown.status, 400);
  t.regex(unknown.body.error.message, /unknown field "team"; allowed: since, until, by, environment, component, deploys/);
  // A key scoped to other environments reads nothing of this one.
  const scoped = await makeKey({ name: uniqueName('dm-scoped'), role: 'viewer', scopes: { environments: ['staging'] } });
  const denied = await http<{ error: { message: string } }>('GET', `/api/v1/metrics/delivery?${range}`, undefined, as(scoped.key));
  t.is(denied.status, 403);
  t.regex(denied.body.error.message, new RegExp(`scoped to environment\\(s\\) staging; deployments.read in ${env} is not allowed`));
});

test('the OpenAPI document defines the figures', async (t) => {
  const doc = await http<{ paths: Record<string, { get?: { description: string; parameters: { name: string }[] } }> }>('GET', '/api/v1/openapi.json');
  const op = doc.body.paths['/api/v1/metrics/delivery']?.get;
  t.truthy(op);
  for (const term of ['**Lead time**', '**Change failure rate**', '**Time to restore**', '**Deploys per day**', '**Developer**'])
    t.true(op!.description.includes(term), term);
  t.deepEqual(
    op!.parameters.map((p) => p.name),
    ['since', 'until', 'by', 'environment', 'component', 'deploys'],
  );
});

test('a signed push records its commit, the commit timestamp and author with the trigger instance', async (t) => {
  const delivery = `dm-${crypto.randomBytes(6).toString('hex')}`;
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: 'a'.repeat(40),
    repository: { full_name: `nobody/${delivery}`, clone_url: `https://ghe.example.com/nobody/${delivery}.git` },
    pusher: { name: 'pusher' },
    head_commit: { id: 'a'.repeat(40), message: 'fix', timestamp: '2025-03-01T13:00:00+01:00', author: { name: 'Dana Dev', username: 'dana' } },
  });
  const res = await fetch(`${API}/api/v1/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      'x-hub-signature-256': await signWebhook(config.api.githubWebhookSecret!, body),
    },
    body,
  });
  t.is(res.status, 202, await res.text());
  const tr = await http<TriggerRecord>('GET', `/api/v1/triggers/github.push.${delivery}`);
  t.is(tr.status, 200);
  t.deepEqual(tr.body.metadata, { commit: 'a'.repeat(40), committedAt: '2025-03-01T12:00:00.000Z', author: 'dana' });
});
