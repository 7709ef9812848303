/**
 * Runs whose worker may be lost (actionExecution, and a deploy leg's action and Puppet run).
 * Deterministic: no I/O, no Node APIs.
 *
 * A lost worker (the activity's heartbeat stops: the worker died; its script's process group died
 * with it, lib/spawn.ts) is not a failure of the script, and the script may or may not have done its
 * work. So the workflow, not Temporal, retries (the activity has maximumAttempts 1), and a lost worker
 * is never retried blindly:
 *   - work declared idempotent (an action with `idempotent: true`, a Puppet run) runs again on another
 *     worker of the region, up to MAX_LOST_RETRIES times;
 *   - any other run is `lost` and waits for an operator's decision (the `resolveLost` update: retry,
 *     succeeded or failed, with who decided), shown in the workflow's current details.
 * Failures of the work itself are retried as it declares (maxAttempts, backoff 1 s ×2, at most 1 min).
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, condition, setCurrentDetails, setHandler, sleep } from '@temporalio/workflow';
import { ATTEMPT_ABANDONED } from '../common/constants.js';
import { resolveLostUpdate, type LostDecision } from './definitions.js';

/** Lost workers an idempotent run survives before it fails. */
export const MAX_LOST_RETRIES = 5;

/**
 * The activity's heartbeat stopped (the worker running it is gone), or its worker let it go while the
 * script ran (it shut down: the script was stopped at the end of the grace time).
 */
export function workerLost(err: unknown): boolean {
  if (!(err instanceof ActivityFailure)) return false;
  if (err.cause instanceof TimeoutFailure) return err.cause.timeoutType === 'HEARTBEAT';
  return err.cause instanceof ApplicationFailure && err.cause.type === ATTEMPT_ABANDONED;
}

/** No worker of the activity's queue took it before its schedule-to-start deadline. */
export function noWorker(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START';
}

/**
 * The `resolveLost` update of one workflow, registered the first time a run of it is lost: a decision
 * is accepted only for a run that waits for one — the run it names, or the only one waiting.
 * (Module state is this workflow's own: each workflow runs in a context of its own.)
 */
class LostDecisions {
  private readonly waiting = new Set<string>();
  private readonly decided = new Map<string, LostDecision>();

  constructor() {
    setHandler(
      resolveLostUpdate,
      (d) => {
        this.decided.set(this.target(d), d);
        return { decision: d.decision, decidedBy: d.actor };
      },
      { validator: (d: LostDecision) => void this.target(d) },
    );
  }

  private target(d: LostDecision): string {
    if (this.waiting.size === 0) throw new Error('this run is not lost: only a run whose worker was lost waits for a decision.');
    if (d.executionId === undefined) {
      if (this.waiting.size > 1) throw new Error(`several runs wait for a decision (${[...this.waiting].join(', ')}): name one.`);
      return [...this.waiting][0];
    }
    if (!this.waiting.has(d.executionId)) throw new Error(`${d.executionId} is not lost: ${[...this.waiting].join(', ')} waits for a decision.`);
    return d.executionId;
  }

  /** Waits for the operator's decision on `executionId`. */
  async wait(executionId: string): Promise<LostDecision> {
    this.waiting.add(executionId);
    await condition(() => this.decided.has(executionId));
    this.waiting.delete(executionId);
    const d = this.decided.get(executionId)!;
    this.decided.delete(executionId);
    return d;
  }
}

let decisions: LostDecisions | undefined;

export interface LosableRun<T> {
  /** What `stackwire execution resolve` names, and what the records are about. */
  executionId: string;
  /** Said in the current details: "<summary>: running …". */
  summary: string;
  /** Shown while it runs. */
  running: (attempt: number) => string;
  /** Runs again by itself after a lost worker. */
  idempotent: boolean;
  /** Attempts the work itself may fail before it fails for good. */
  maxAttempts: number;
  /** Failure types that no retry can fix. */
  nonRetryable: readonly string[];
  /** One attempt: an activity with maximumAttempts 1. */
  attempt: (attempt: number) => Promise<T>;
  /** Records the run as lost, and later as decided. */
  recordLost: (status: 'lost' | 'succeeded' | 'failed', note: string, attempt: number) => Promise<void>;
  /** What a run marked succeeded by an operator returns. */
  markedSucceeded: () => T;
  region: string;
  /** The first wait after a failure of the work itself, in seconds (doubling, at most 60). */
  backoffSeconds?: number;
  /** How long an attempt may wait for a worker of the region (its schedule-to-start timeout), for the message. */
  workerWaitSeconds?: number;
  /** An idempotent run lost more than MAX_LOST_RETRIES times: wait for a decision (default) or fail. */
  lostTooOften?: 'wait' | 'fail';
}

/**
 * Runs `o.attempt` until it succeeds, fails for good (its error is thrown: the caller records it), or is
 * lost and an operator marks it failed (an `ActionLost` failure is thrown, already recorded).
 */
export async function runLosable<T>(o: LosableRun<T>): Promise<T> {
  let attempt = 0;
  let lost = 0;
  for (;;) {
    attempt++;
    setCurrentDetails(o.running(attempt));
    try {
      return await o.attempt(attempt);
    } catch (err) {
      if (noWorker(err))
        throw ApplicationFailure.nonRetryable(
          `${o.summary}: no worker of region ${o.region} took it within ${o.workerWaitSeconds ?? '?'} s. Start one (stackwire-worker --region ${o.region}), then run it again.`,
          'NoWorker',
        );
      if (workerLost(err)) {
        lost++;
        if (o.idempotent && lost <= MAX_LOST_RETRIES) {
          setCurrentDetails(`${o.summary}: the worker running it was lost; idempotent, so it runs again on another worker of ${o.region}`);
          continue;
        }
        const how = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.message : 'its heartbeat stopped';
        const note = `worker lost during attempt ${attempt} (${how}); ${o.idempotent ? `lost ${lost} times` : 'the script may or may not have done its work'}`;
        if (o.lostTooOften === 'fail') throw ApplicationFailure.nonRetryable(`${o.summary}: ${note}`, 'WorkerLost');
        await o.recordLost('lost', note, attempt);
        setCurrentDetails(`${o.summary}: LOST — ${note}. Waiting for an operator: stackwire execution resolve ${o.executionId} retry|succeeded|failed`);
        decisions ??= new LostDecisions();
        const d = await decisions.wait(o.executionId);
        const by = `${d.decision === 'retry' ? 'retried' : `marked ${d.decision}`} by ${d.actor}${d.reason ? `: ${d.reason}` : ''}`;
        if (d.decision === 'retry') {
          lost = 0;
          continue;
        }
        await o.recordLost(d.decision, by, attempt);
        setCurrentDetails(`${o.summary}: lost, ${by}`);
        if (d.decision === 'succeeded') return o.markedSucceeded();
        throw ApplicationFailure.nonRetryable(`${o.summary}: ${note}; ${by}`, 'ActionLost');
      }
      const type = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
      if (attempt < o.maxAttempts && !(type && o.nonRetryable.includes(type))) {
        setCurrentDetails(`${o.summary}: attempt ${attempt} failed; retrying`);
        await sleep(Math.min(60_000, (o.backoffSeconds ?? 1) * 1000 * 2 ** (attempt - 1)));
        continue;
      }
      throw err;
    }
  }
}
