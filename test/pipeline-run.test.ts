/**
 * The pipeline interpreter (workflows/pipeline-interpreter.ts) through the Temporal client, against the
 * real dev server and the stack's regional workers: parallel branches, a condition that skips, a retry
 * that succeeds on the second attempt, outputs between steps, local activities for short idempotent
 * steps, a failure with on_failure and continue_on_error, an approval decided by update (four eyes),
 * a sub-pipeline, a for_each over 500 items 20 at a time, and re-use of earlier outputs.
 */
import crypto from 'node:crypto';
import test from 'ava';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { regionTaskQueue } from '../common/constants.js';
import type { PipelineRunRequest, PipelineRunState, StepResult } from '../common/pipeline.js';
import { pipelineRun } from '../workflows/index.js';
import { pipelineDecideUpdate, pipelineStateQuery } from '../workflows/definitions.js';
import { Worker } from '@temporalio/worker';
import { WORKFLOW_BUNDLE } from '../lib/paths.js';
import { stackwireDataConverter } from '../lib/temporal-client.js';
import { config, dbPool, eventually, temporalClient } from './helpers.js';
import { pipelineRequest } from './pipeline-request.js';

const pool = dbPool();
test.after.always(() => pool.end());

const request = (yaml: string, o: Partial<PipelineRunRequest> = {}, subs: string[] = []) => pipelineRequest(pool, yaml, o, subs);

async function start(req: PipelineRunRequest) {
  const client = await temporalClient();
  return client.workflow.start(pipelineRun, { taskQueue: regionTaskQueue(req.defaultRegion), workflowId: req.runId, args: [req] });
}

/** The state of a failed run: the details of its PipelineFailed failure. */
async function failedState(p: Promise<unknown>): Promise<PipelineRunState> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) throw new Error(`expected a failed run, got ${String(err)}`);
  if (err.cause.type !== 'PipelineFailed') throw new Error(`expected PipelineFailed, got ${err.cause.type}: ${err.cause.message}`);
  return err.cause.details![0] as PipelineRunState;
}

const step = (s: PipelineRunState, id: string): StepResult => s.steps.find((x) => x.id === id)!;

test('parallel branches, a skipped condition, a retry that succeeds on the second attempt, outputs between steps, local activities for short idempotent steps', async (t) => {
  const req = await request(`
name: basics
inputs:
  who: {type: string, default: world}
  run_extra: {type: boolean, default: false}
steps:
  - id: hello
    action: testkit.echo_args
    with: {message: "hello \${{ inputs.who }}"}
  - id: left
    action: testkit.sleep
    needs: [hello]
    with: {pidfile: /dev/null, seconds: 1}
  - id: right
    action: testkit.sleep
    needs: [hello]
    with: {pidfile: /dev/null, seconds: 1}
  - id: quick
    action: testkit.quick
    needs: [hello]
    with: {value: "\${{ steps.hello.outputs.region }}"}
  - id: flaky
    action: testkit.flaky
    needs: [hello]
    retry: {attempts: 3, backoff: 0.2}
  - id: extra
    action: testkit.quick
    if: \${{ inputs.run_extra }}
  - id: join
    action: testkit.quick
    needs: [left, right, quick, flaky]
    with: {value: "\${{ steps.quick.outputs.value }}-\${{ steps.flaky.outputs.attempt }}"}
  - id: greet
    action: testkit.quick
    with: {value: "hello \${{ inputs.who }}"}
outputs:
  final: \${{ steps.join.outputs.value }}
  greeting: \${{ steps.greet.outputs.value }}
`);
  const handle = await start(req);
  const s = await handle.result();
  t.is(s.status, 'succeeded');
  t.deepEqual(s.outputs, { final: 'us-east-2', greeting: 'hello world' });
  t.is(step(s, 'flaky').status, 'succeeded');
  t.deepEqual(step(s, 'flaky').outputs, { attempt: 2 }, 'the second attempt succeeded');
  t.is(step(s, 'extra').status, 'skipped');
  t.regex(step(s, 'extra').error ?? '', /if: .* is false/);
  // left and right ran at the same time: each started before the other finished.
  const [l, r] = [step(s, 'left'), step(s, 'right')];
  t.true(l.startedAt! < r.finishedAt! && r.startedAt! < l.finishedAt!, JSON.stringify([l, r]));
  // The idempotent short step ran as a local activity (a marker), the others as activities.
  const history = await handle.fetchHistory();
  const types = history.events!.map((e) => String(e.eventType));
  const markers = history.events!.filter((e) => e.markerRecordedEventAttributes).length;
  const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes).length;
  t.true(markers >= 1, `a local activity marker: ${types.join(',')}`);
  t.true(scheduled >= 4, 'hello, left, right and flaky as regular activities');
});

test('a failed step fails the run with every step accounted for: continue_on_error, skipped dependents, on_failure steps that see the failure', async (t) => {
  const req = await request(`
name: failing
steps:
  - id: ok
    action: testkit.quick
  - id: soft
    action: testkit.fail
    with: {code: 3}
    retry: {attempts: 1}
    continue_on_error: true
  - id: hard
    action: testkit.fail
    needs: [ok]
    retry: {attempts: 1}
  - id: after
    action: testkit.quick
    needs: [hard]
on_failure:
  - id: cleanup
    action: testkit.quick
    with: {value: "cleanup after hard \${{ steps.hard.conclusion }}"}
`);
  const s = await failedState((await start(req)).result());
  t.is(s.status, 'failed');
  t.is(step(s, 'ok').status, 'succeeded');
  t.is(step(s, 'soft').status, 'failed', 'continue_on_error: failed, but the run goes on');
  t.is(step(s, 'hard').status, 'failed');
  t.regex(step(s, 'hard').error ?? '', /exit(ed with)? code 1|exit code 1|status 1/);
  t.is(step(s, 'after').status, 'skipped');
  t.is(step(s, 'after').error, 'not run: hard failed');
  t.is(step(s, 'cleanup').status, 'succeeded');
  t.is(step(s, 'cleanup').outputs.value, 'cleanup after hard failed');
  t.regex(s.error ?? '', /^hard: /);
});

test('an approval step waits for a decision by update: never by the requester, then by an approver; a sub-pipeline returns its outputs', async (t) => {
  const req = await request(
    `
name: gated
steps:
  - id: build
    action: testkit.quick
    with: {value: "1.4.2"}
  - id: approve
    needs: [build]
    approval: {approvers: [bob, carol], deadline: 10m, message: "ship \${{ steps.build.outputs.value }}?"}
  - id: release
    needs: [approve]
    pipeline: release-notes
    with: {version: "\${{ steps.build.outputs.value }}", by: "\${{ steps.approve.outputs.approved_by }}"}
outputs:
  notes: \${{ steps.release.outputs.line }}
`,
    {},
    [
      `
name: release-notes
inputs:
  version: {type: string, required: true}
  by: {type: string, required: true}
  channel: {type: string, default: stable}
steps:
  - id: write
    action: testkit.quick
    with: {value: "\${{ inputs.version }} on \${{ inputs.channel }}, approved by \${{ inputs.by }}"}
outputs:
  line: \${{ steps.write.outputs.value }}
`,
    ],
  );
  const handle = await start(req);
  const waiting = await eventually(async () => {
    const st = await handle.query(pipelineStateQuery);
    return st.waiting.length ? st : undefined;
  }, 'the approval step to wait');
  t.deepEqual(
    waiting.waiting.map((w) => ({ step: w.step, approvers: w.approvers, message: w.message })),
    [{ step: 'approve', approvers: ['bob', 'carol'], message: 'ship 1.4.2?' }],
  );
  t.is(step(waiting, 'approve').status, 'waiting');
  const refused = async (actor: string) =>
    handle.executeUpdate(pipelineDecideUpdate, { args: [{ step: 'approve', actor, approve: true }] }).then(
      () => 'accepted',
      (e: unknown) => (e instanceof WorkflowUpdateFailedError ? (e.cause?.message ?? e.message) : String(e)),
    );
  t.regex(await refused('alice'), /alice started this run and cannot decide its own approval step/);
  t.regex(await refused('mallory'), /mallory is not an approver of step approve/);
  t.deepEqual(await handle.executeUpdate(pipelineDecideUpdate, { args: [{ step: 'approve', actor: 'bob', approve: true }] }), {
    step: 'approve',
    decidedBy: 'bob',
    approved: true,
  });
  const s = await handle.result();
  t.is(s.status, 'succeeded');
  t.is(step(s, 'approve').decidedBy, 'bob');
  t.deepEqual(s.outputs, { notes: '1.4.2 on stable, approved by bob' });
});

test('a for_each over 500 items runs 20 at a time in a child workflow; a failing item fails the step with the item named', async (t) => {
  const items = Array.from({ length: 500 }, (_, i) => `host-${i}`);
  const req = await request(
    `
name: fanout
inputs:
  hosts: {type: list}
steps:
  - id: each
    action: testkit.quick
    for_each: \${{ inputs.hosts }}
    concurrency: 20
    with: {value: "\${{ item }}"}
  - id: some-fail
    action: testkit.flaky
    needs: [each]
    for_each: [1, 5, 1]
    concurrency: 3
    retry: {attempts: 1}
    with: {succeed_on: "\${{ item }}"}
`,
    { inputs: { hosts: items } },
  );
  const s = await failedState((await start(req)).result());
  t.deepEqual(step(s, 'each').items, { total: 500, succeeded: 500, failed: 0 });
  t.is(step(s, 'each').status, 'succeeded');
  t.deepEqual(step(s, 'some-fail').items, { total: 3, succeeded: 2, failed: 1 });
  t.regex(step(s, 'some-fail').error ?? '', /1 of 3 items failed; first: item 1 \(5\)/);
});

test('a re-run reuses the recorded outputs of the steps before the one it starts from', async (t) => {
  const yaml = `
name: rerun
steps:
  - id: first
    action: testkit.quick
    with: {value: "fresh"}
  - id: second
    action: testkit.quick
    needs: [first]
    with: {value: "\${{ steps.first.outputs.value }} then second"}
`;
  const earlier: StepResult = { id: 'first', status: 'succeeded', outputs: { value: 'recorded' } };
  const s = await (await start(await request(yaml, { reuse: { first: earlier }, rerunOf: 'pipeline.rerun.earlier' }))).result();
  t.is(step(s, 'first').status, 'reused');
  t.deepEqual(step(s, 'first').outputs, { value: 'recorded' });
  t.is(step(s, 'second').outputs.value, 'recorded then second');
});

test('an action step in a region no worker serves fails after its worker_wait, naming the region, instead of waiting for ever', async (t) => {
  const nowhere = `nowhere-${crypto.randomBytes(3).toString('hex')}`;
  const req = await request(
    `
name: unserved
steps:
  - id: near
    action: testkit.quick
  - id: far
    action: testkit.quick
    region: ${nowhere}
    worker_wait: 3s
    needs: [near]
  - id: after
    action: testkit.quick
    needs: [far]
`,
    { regions: ['us-east', nowhere] },
  );
  const s = await failedState((await start(req)).result());
  t.is(step(s, 'near').status, 'succeeded');
  t.is(step(s, 'far').status, 'failed');
  t.regex(
    step(s, 'far').error ?? '',
    new RegExp(`no worker of region ${nowhere} took it within 3 s\\. Start one \\(stackwire-worker --region ${nowhere}\\), then run it again`),
  );
  t.is(step(s, 'after').status, 'skipped');
});

test('a run whose action step follows a slow local step replays: the step patches are decided in the first workflow task', async (t) => {
  // A local (idempotent, ≤ 30 s) step of 10 s: longer than a workflow task's heartbeat (80 % of its
  // 10 s timeout), so the SDK completes a task while it runs and its result lands in a later task
  // than a replay sees it in. The action step after it once recorded its patch marker in that later
  // task, and the run could not be replayed (a nondeterminism error on the next worker).
  const req = await request(`
name: slow-local
steps:
  - id: slow
    action: testkit.sleep
    with: {pidfile: /dev/null, seconds: 10}
  - id: after
    action: testkit.echo_args
    with: {message: after the slow step}
    needs: [slow]
`);
  req.actions['testkit.sleep'] = { ...req.actions['testkit.sleep'], idempotent: true, timeoutSeconds: 30 };
  const handle = await start(req);
  const s = await handle.result();
  t.is(step(s, 'slow').status, 'succeeded');
  t.is(step(s, 'after').status, 'succeeded');
  const history = await handle.fetchHistory();
  const markers = history
    .events!.filter((e) => e.markerRecordedEventAttributes)
    .map((e) => ({ id: Number(e.eventId), name: e.markerRecordedEventAttributes!.markerName }));
  const firstOf = (name: string) => markers.find((m) => m.name === name)?.id ?? Infinity;
  t.true(firstOf('core_local_activity') < Infinity, 'the slow step ran as a local activity');
  t.true(
    firstOf('core_patch') < firstOf('core_local_activity'),
    `the patch is decided before the first step, not at the step after it: ${JSON.stringify(markers)}`,
  );
  await t.notThrowsAsync(
    Worker.runReplayHistory({ workflowBundle: { codePath: WORKFLOW_BUNDLE }, dataConverter: stackwireDataConverter(config) }, history, req.runId),
  );
});
