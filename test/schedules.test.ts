/**
 * Schedules through the CLI and the API against the real Temporal dev server: a pipeline on an
 * interval fires by itself, shows in the list with its last runs, pauses, runs once on demand and is
 * deleted; bad requests and a viewer are refused before anything is created.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { PipelineRunView, ScheduleListResponse } from '../common/api-types.js';
import { cli, eventually, http, makeKey, uniqueName } from './helpers.js';

const name = `tick-${Math.random().toString(36).slice(2, 8)}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-schedule-'));
const file = path.join(dir, 'tick.yml');
fs.writeFileSync(
  file,
  `name: ${name}-pipe
inputs:
  what: {type: string, default: tock}
steps:
  - id: tick
    action: testkit.quick
    with: {value: "\${{ inputs.what }} by \${{ trigger.kind }} \${{ trigger.schedule }}"}
outputs:
  said: \${{ steps.tick.outputs.value }}
`,
);

const schedules = async () => (await http<ScheduleListResponse>('GET', '/api/v1/schedules')).body.schedules.filter((s) => s.name === name);
const runs = async () => (await http<{ runs: { id: string; status: string }[] }>('GET', `/api/v1/pipelines/runs?pipeline=${name}-pipe`)).body.runs;

test('a pipeline on an interval runs by itself, pauses, runs once on demand and is deleted', async (t) => {
  const created = await cli(['schedule', 'create', name, file, 'what=tick', '--every', '2s', '--note', 'test tick', '--json']);
  t.is(created.code, 0, created.stderr);
  t.like(JSON.parse(created.stdout), { name, scheduleId: `schedule.${name}`, pipeline: `${name}-pipe` });
  t.is((await cli(['schedule', 'create', name, file, '--every', '2s'])).code, 1, 'the name is taken');

  // It fires by itself: a run of the pipeline, with the schedule as its trigger.
  const first = await eventually(async () => (await runs()).find((r) => r.status === 'completed'), 'a scheduled run', 90_000);
  t.true(first.id.startsWith(`pipeline.${name}-pipe.${name}-`), first.id);
  const v = (await http<PipelineRunView>('GET', `/api/v1/pipelines/runs/${first.id}`)).body;
  t.is(v.outputs.said, `tick by schedule ${name}`);
  // A scheduled run traces to its schedule (no trigger instance: Temporal fired it).
  const traced = await cli(['trace', first.id, '--json']);
  t.is(traced.code, 0, traced.stderr);
  t.like(JSON.parse(traced.stdout), { found: 'run', trigger: null, origin: { kind: 'schedule', schedule: name } });
  const [listed] = await schedules();
  t.like(listed, { pipeline: `${name}-pipe`, paused: false, note: 'test tick', every: ['2s'] });
  t.true(listed.recentRuns.length >= 1);

  // Paused, it runs no more by itself; trigger runs it once anyway.
  t.is((await cli(['schedule', 'pause', name])).code, 0);
  t.true((await schedules())[0].paused);
  const before = (await runs()).length;
  t.is((await cli(['schedule', 'trigger', name])).code, 0);
  await eventually(async () => ((await runs()).length > before ? true : undefined), 'the triggered run', 60_000);

  const table = await cli(['schedule', 'list']);
  t.regex(table.stdout, new RegExp(`${name}\\s+${name}-pipe\\s+every 2s\\s+yes`));
  t.is((await cli(['schedule', 'delete', name])).code, 0);
  t.deepEqual(await schedules(), []);
  t.is((await cli(['schedule', 'pause', name])).code, 2, 'gone');
});

test('a schedule is refused before anything is created: both or neither of cron and every, an invalid pipeline, a viewer', async (t) => {
  const both = await cli(['schedule', 'create', uniqueName('x'), file, '--every', '1h', '--cron', '0 3 * * *']);
  t.is(both.code, 2);
  t.regex(both.stderr, /--cron .* or --every, not both/);
  const badDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwire-schedule-bad-'));
  fs.writeFileSync(path.join(badDir, 'bad.yml'), 'name: bad\nsteps:\n  - id: a\n    action: testkit.nope\n');
  const bad = await cli(['schedule', 'create', uniqueName('bad'), path.join(badDir, 'bad.yml'), '--every', '1h']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /bad\.yml:4:\d+: .*testkit\.nope/);
  const viewer = await makeKey({ name: uniqueName('sched-viewer'), role: 'viewer' });
  const denied = await cli(['schedule', 'create', uniqueName('v'), file, '--every', '1h'], { STACKWIRE_API_KEY: viewer.key });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /schedules\.manage needs the admin role/);
  t.is((await cli(['schedule', 'list', '--json'], { STACKWIRE_API_KEY: viewer.key })).code, 0, 'a viewer reads them');
});
