/**
 * Sensors (`sensor.<name>`): long-running watchers that emit trigger instances, each a workflow on its
 * region's task queue (its activities run on the same worker), polling forever until it is cancelled
 * (DELETE /api/v1/sensors/:name), continuing as new every few hundred polls with its state in the input:
 *
 *   sensuSensor   polls the Sensu events of a namespace; a check whose status changed emits `sensu.event`
 *                 (the first poll records the baseline only)
 *   gitSensor     polls `git ls-remote` of a branch; a move emits `git.push` (the first poll records it)
 *   scriptSensor  keeps an action's script running; each JSON line it prints is a `sensor.<name>` event
 *                 (recorded by the activity as it comes); started again after a pause when it ends
 *
 * Emissions are idempotent (ids derive from the event), so a retry or a replay emits nothing twice.
 * The `sensorStatus` query answers the counters; the Web UI shows them as current details.
 * Deterministic: no I/O, no Node APIs.
 */
import {
  ActivityCancellationType,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import {
  NEW_SENSOR_STATS,
  gitPushKey,
  sensorDetails,
  sensorTriggerType,
  type GitSensorInput,
  type ScriptSensorInput,
  type SensorStats,
  type SensuSensorInput,
} from '../common/sensors.js';
import type { SensorKind } from '../common/api-types-sensors.js';
import { failureReason } from './action-steps.js';
import { sensorStatusQuery } from './definitions.js';
import { throwIfCancelledBeforeContinueAsNew } from './continue-as-new.js';

type Activities = ReturnType<typeof createActivities>;

/** Polls (or process starts) per run before continuing as new. */
const RUNS_PER_GENERATION = 500;
const HISTORY_EVENTS = 5000;
const HISTORY_BYTES = 4 * 1024 * 1024;

function continueAsNewDue(inThisRun: number, input: { runsPerGeneration?: number }): boolean {
  const info = workflowInfo();
  return (
    inThisRun >= (input.runsPerGeneration ?? RUNS_PER_GENERATION) ||
    info.continueAsNewSuggested ||
    info.historyLength > HISTORY_EVENTS ||
    info.historySize > HISTORY_BYTES
  );
}

const now = (): string => new Date().toISOString();

/** The counters, the status query and the Web UI's details of one sensor run. */
function sensorState(kind: SensorKind, input: { interval: string; stats?: SensorStats }) {
  const stats: SensorStats = { ...NEW_SENSOR_STATS, ...input.stats };
  let details = sensorDetails(kind, input.interval, stats);
  setHandler(sensorStatusQuery, () => ({ kind, ...stats, details }));
  return {
    stats,
    show(text = sensorDetails(kind, input.interval, stats)): void {
      details = text;
      setCurrentDetails(text);
    },
    next(): SensorStats {
      return { ...stats, generation: stats.generation + 1 };
    },
  };
}

function emitter(name: string, kind: SensorKind) {
  const { emitTriggers } = proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' },
    summary: `emit ${sensorTriggerType(kind, name)}`,
  });
  return emitTriggers;
}

/** Cancellation (the sensor deleted) ends the workflow; any other failure of a poll is recorded and polling goes on. */
function recordFailure(stats: SensorStats, err: unknown): void {
  if (isCancellation(err)) throw err;
  stats.lastError = failureReason(err);
}

export async function sensuSensor(input: SensuSensorInput): Promise<void> {
  const state = sensorState('sensu', input);
  const { stats } = state;
  const emit = emitter(input.name, 'sensu');
  const { pollSensuEvents } = proxyActivities<Activities>({
    startToCloseTimeout: '2m',
    retry: { maximumAttempts: 3, initialInterval: '1s', nonRetryableErrorTypes: ['SensuNotConfigured'] },
    summary: `read the Sensu events of namespace ${input.namespace}`,
  });
  let statuses = input.statuses;
  for (let i = 1; ; i++) {
    try {
      const diff = await pollSensuEvents({ namespace: input.namespace, ...(statuses ? { known: statuses } : {}) });
      if (diff.changes.length) {
        const r = await emit({ sensor: input.name, type: 'sensu.event', events: diff.changes });
        stats.emitted += r.emitted;
        if (r.emitted) stats.lastEventAt = now();
      }
      // Only once emitted: a failed emission is found again (same ids) at the next poll.
      const next = { ...(statuses ?? {}), ...diff.updates };
      for (const k of diff.removed) delete next[k];
      statuses = next;
      stats.lastError = null;
    } catch (err) {
      recordFailure(stats, err);
    }
    stats.polls++;
    stats.lastPollAt = now();
    state.show();
    await sleep(input.intervalSeconds * 1000);
    if (continueAsNewDue(i, input)) {
      throwIfCancelledBeforeContinueAsNew();
      await continueAsNew<typeof sensuSensor>({ ...input, ...(statuses ? { statuses } : {}), stats: state.next() });
    }
  }
}

export async function gitSensor(input: GitSensorInput): Promise<void> {
  const state = sensorState('git', input);
  const { stats } = state;
  const emit = emitter(input.name, 'git');
  const { gitBranchHead } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['GitSourceRefused', 'BadRef'] },
    summary: `git ls-remote ${input.url} refs/heads/${input.branch}`,
  });
  const ref = `refs/heads/${input.branch}`;
  let baseline = input.baseline;
  for (let i = 1; ; i++) {
    try {
      const { sha } = await gitBranchHead({ url: input.url, branch: input.branch });
      if (baseline && sha !== null && sha !== baseline.sha) {
        const payload = { repository: input.url, ref, before: baseline.sha, after: sha, commit: sha };
        const r = await emit({ sensor: input.name, type: 'git.push', events: [{ key: gitPushKey(baseline.sha, sha), payload }] });
        stats.emitted += r.emitted;
        if (r.emitted) stats.lastEventAt = now();
      }
      baseline = { sha };
      stats.lastError = null;
    } catch (err) {
      recordFailure(stats, err);
    }
    stats.polls++;
    stats.lastPollAt = now();
    state.show();
    await sleep(input.intervalSeconds * 1000);
    if (continueAsNewDue(i, input)) {
      throwIfCancelledBeforeContinueAsNew();
      await continueAsNew<typeof gitSensor>({ ...input, ...(baseline ? { baseline } : {}), stats: state.next() });
    }
  }
}

/** A process that ends within this long counts as a quick end: the pause before the next start doubles with each in a row. */
const QUICK_END_MS = 60_000;
const MAX_PAUSE_SECONDS = 600;

export async function scriptSensor(input: ScriptSensorInput): Promise<void> {
  const state = sensorState('script', input);
  const { stats } = state;
  const { runSensorScript } = proxyActivities<Activities>({
    // A sensor's process runs until it ends or is stopped; the heartbeat (every second) is what tells a lost worker.
    startToCloseTimeout: '30d',
    heartbeatTimeout: '30s',
    // "cancelled" means the process group is gone: wait for the activity to confirm it.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // The workflow starts it again itself, after a pause.
    retry: { maximumAttempts: 1 },
    summary: `run ${input.action.name} as sensor ${input.name}`,
  });
  const type = sensorTriggerType('script', input.name);
  let quickEnds = input.quickEnds ?? 0;
  for (let i = 1; ; i++) {
    const started = Date.now();
    stats.starts++;
    stats.lastPollAt = now();
    state.show(
      `process #${stats.starts} of ${input.action.name} running since ${stats.lastPollAt.slice(11, 19)} UTC; ${sensorDetails('script', input.interval, stats)}`,
    );
    try {
      const r = await runSensorScript({ sensor: input.name, type, action: input.action, parameters: input.parameters });
      stats.emitted += r.emitted;
      if (r.lastEventAt) stats.lastEventAt = r.lastEventAt;
      const tail = r.stderrTail.trim().split('\n').pop() ?? '';
      stats.lastError =
        r.exitCode === 0
          ? null
          : `the process ended with ${r.exitCode !== null ? `exit code ${r.exitCode}` : `signal ${r.signal}`}${tail ? `: ${tail.slice(0, 300)}` : ''}`;
    } catch (err) {
      recordFailure(stats, err);
    }
    quickEnds = Date.now() - started < QUICK_END_MS ? quickEnds + 1 : 0;
    const pause = Math.min(input.intervalSeconds * 2 ** Math.max(0, quickEnds - 1), Math.max(input.intervalSeconds, MAX_PAUSE_SECONDS));
    state.show(`process #${stats.starts} ended, next start in ${pause}s; ${sensorDetails('script', input.interval, stats)}`);
    await sleep(pause * 1000);
    if (continueAsNewDue(i, input)) {
      throwIfCancelledBeforeContinueAsNew();
      await continueAsNew<typeof scriptSensor>({ ...input, quickEnds, stats: state.next() });
    }
  }
}
