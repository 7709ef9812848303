/**
 * A deployment history with known timestamps for test/delivery-metrics.test.ts, written straight into
 * the stack's database under names of its own (environment `<prefix>`, components `<prefix>-api`,
 * `-web`, `-db`), so that no other test's deploys mix in. The expected figures are worked out by hand
 * in the test, from the comments here.
 */
import type pg from 'pg';

type Component = 'api' | 'web' | 'db';

interface Leg {
  /** The deploy run (deployment id, made unique with the prefix). */
  run: string;
  component: Component;
  version: string;
  /** Another environment than the measured one (`<prefix>-staging`). */
  staging?: true;
  region: 'us-east' | 'eu-west';
  kind?: 'rollback';
  status: 'running' | 'succeeded' | 'failed' | 'rolled_back' | 'cancelled';
  actor: string;
  /** A push trigger instance of this history. */
  push?: 'push1' | 'push2';
  /** 2025-MM-DDTHH:MM, UTC. */
  start: string;
  end: string | null;
}

/** The window the test asks for: three days. */
export const SINCE = '2025-03-01T00:00:00Z';
export const UNTIL = '2025-03-04T00:00:00Z';

/** Pushes: their commits' authors and timestamps, as the webhook records them. */
export const PUSHES = {
  push1: { commit: 'c0ffee01', committedAt: '2025-03-01T12:00:00.000Z', author: 'carol' },
  push2: { commit: 'c0ffee02', committedAt: '2025-03-01T15:00:00.000Z', author: 'carol' },
} as const;

export const LEGS: Leg[] = [
  // Before the window: not counted. d0b started before it, though its second leg is inside.
  { run: 'd0', component: 'api', version: '1.0', region: 'us-east', status: 'succeeded', actor: 'alice', start: '02-28T23:00', end: '02-28T23:05' },
  { run: 'd0b', component: 'web', version: '1.9', region: 'us-east', status: 'succeeded', actor: 'bob', start: '02-28T23:50', end: '02-28T23:59' },
  { run: 'd0b', component: 'web', version: '1.9', region: 'eu-west', status: 'succeeded', actor: 'bob', start: '03-01T00:01', end: '03-01T00:05' },
  // api 1.1 was first recorded in staging (its "creation" for the lead time: no commit is known).
  {
    run: 's1',
    component: 'api',
    version: '1.1',
    staging: true,
    region: 'us-east',
    status: 'succeeded',
    actor: 'alice',
    start: '02-28T10:00',
    end: '02-28T10:02',
  },
  // d1: alice, api 1.1, succeeded 03-01 10:00–10:10; lead 24h10m from the version's first record.
  { run: 'd1', component: 'api', version: '1.1', region: 'us-east', status: 'succeeded', actor: 'alice', start: '03-01T10:00', end: '03-01T10:05' },
  { run: 'd1', component: 'api', version: '1.1', region: 'eu-west', status: 'succeeded', actor: 'alice', start: '03-01T10:05', end: '03-01T10:10' },
  // d2: a push by carol, api 1.2, failed at 13:04 (the canary); its rollback leg is not a deploy.
  {
    run: 'd2',
    component: 'api',
    version: '1.2',
    region: 'us-east',
    status: 'failed',
    actor: 'github:pusher',
    push: 'push1',
    start: '03-01T13:00',
    end: '03-01T13:04',
  },
  {
    run: 'd2',
    component: 'api',
    version: '1.1',
    region: 'us-east',
    kind: 'rollback',
    status: 'succeeded',
    actor: 'github:pusher',
    start: '03-01T13:04',
    end: '03-01T13:06',
  },
  // d3: a push by carol, api 1.3, succeeded 16:00–16:10: lead 1h10m from the commit; restores d2 after 3h6m.
  {
    run: 'd3',
    component: 'api',
    version: '1.3',
    region: 'us-east',
    status: 'succeeded',
    actor: 'github:pusher',
    push: 'push2',
    start: '03-01T16:00',
    end: '03-01T16:05',
  },
  {
    run: 'd3',
    component: 'api',
    version: '1.3',
    region: 'eu-west',
    status: 'succeeded',
    actor: 'github:pusher',
    push: 'push2',
    start: '03-01T16:05',
    end: '03-01T16:10',
  },
  // d4: bob, web 2.0, failed 03-02 09:00–09:08 (canary rolled back after the second region failed).
  { run: 'd4', component: 'web', version: '2.0', region: 'us-east', status: 'rolled_back', actor: 'bob', start: '03-02T09:00', end: '03-02T09:03' },
  { run: 'd4', component: 'web', version: '2.0', region: 'eu-west', status: 'failed', actor: 'bob', start: '03-02T09:03', end: '03-02T09:08' },
  // d5: bob, web 2.1, failed 11:00–11:02.
  { run: 'd5', component: 'web', version: '2.1', region: 'us-east', status: 'failed', actor: 'bob', start: '03-02T11:00', end: '03-02T11:02' },
  // d9: alice, api, cancelled: not counted.
  { run: 'd9', component: 'api', version: '1.3', region: 'us-east', status: 'cancelled', actor: 'alice', start: '03-02T14:00', end: '03-02T14:01' },
  // d6: bob, web 2.2, succeeded 03-03 08:00–08:10: lead 10m (first record: itself); restores d4 (23h2m) and d5 (21h8m).
  { run: 'd6', component: 'web', version: '2.2', region: 'us-east', status: 'succeeded', actor: 'bob', start: '03-03T08:00', end: '03-03T08:05' },
  { run: 'd6', component: 'web', version: '2.2', region: 'eu-west', status: 'succeeded', actor: 'bob', start: '03-03T08:05', end: '03-03T08:10' },
  // d7: alice, api 1.4, failed 20:00–20:05; restored by d10, after the window, 6h5m later.
  { run: 'd7', component: 'api', version: '1.4', region: 'us-east', status: 'failed', actor: 'alice', start: '03-03T20:00', end: '03-03T20:05' },
  // d8: alice, db 3.0, failed 21:00–21:04, never restored.
  { run: 'd8', component: 'db', version: '3.0', region: 'us-east', status: 'failed', actor: 'alice', start: '03-03T21:00', end: '03-03T21:04' },
  // d12: carol, db 3.1, still running: not counted.
  { run: 'd12', component: 'db', version: '3.1', region: 'us-east', status: 'running', actor: 'carol', start: '03-03T22:00', end: null },
  // d10: after the window (not counted), restores d7.
  { run: 'd10', component: 'api', version: '1.5', region: 'us-east', status: 'succeeded', actor: 'alice', start: '03-04T02:00', end: '03-04T02:10' },
];

const at = (t: string | null) => (t === null ? null : `2025-${t}:00Z`);

/** Writes the history: deployment records as the deploy workflows write them, and the two push trigger instances. */
export async function seedHistory(db: pg.Pool, prefix: string): Promise<void> {
  for (const [name, p] of Object.entries(PUSHES))
    await db.query(
      `INSERT INTO triggers (id, type, source, delivery_id, payload_digest, payload_size, status, metadata)
       VALUES ($1, 'github.push', 'webhook github', $2, 'sha256:0', 0, 'dispatched', $3)`,
      [`github.push.${prefix}-${name}`, `${prefix}-${name}`, JSON.stringify(p)],
    );
  for (const l of LEGS) {
    const kind = l.kind ?? 'deploy';
    const env = l.staging ? `${prefix}-staging` : prefix;
    const run = `deploy.${prefix}-${l.component}.${env}-${l.run}`;
    await db.query(
      `INSERT INTO deployments (id, component, version, environment, region, kind, status, actor, trigger, workflow_id, trigger_id, started_at, finished_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'api', $9, $10, $11, $12)`,
      [
        `${run}.${l.region}.${kind}`,
        `${prefix}-${l.component}`,
        l.version,
        env,
        l.region,
        kind,
        l.status,
        l.actor,
        `${run}.${l.region}.${kind}`,
        l.push ? `github.push.${prefix}-${l.push}` : null,
        at(l.start),
        at(l.end),
      ],
    );
  }
}

/** Removes what seedHistory wrote. */
export async function removeHistory(db: pg.Pool, prefix: string): Promise<void> {
  await db.query(`DELETE FROM deployments WHERE environment IN ($1, $2)`, [prefix, `${prefix}-staging`]);
  await db.query(`DELETE FROM triggers WHERE id LIKE $1`, [`github.push.${prefix}-push%`]);
}
