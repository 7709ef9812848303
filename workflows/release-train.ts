/**
 * A release train: deploy a set of components in dependency order — dependencies first, independent
 * components in parallel (bounded), each a deployComponent child; when one fails, everything that
 * depends on it is not started.
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  executeChild,
  isCancellation,
  patched,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import { SearchAttributes, deploymentWorkflowId, legacyDeploymentWorkflowId } from '../common/constants.js';
import { closure, dependencyWaves, invert } from '../common/graph.js';
import type { DeployResult } from '../common/deploy.js';
import { failureReason } from './action-steps.js';
import { deployComponent } from './deploy-component.js';

export interface ReleaseTrainInput {
  releaseId: string;
  environment: string;
  /** component → version */
  versions: Record<string, string>;
  /** component → what it depends on (from the source of truth, read by the API) */
  edges: Record<string, string[]>;
  /** component → regions to read its snapshot from */
  firstRegion: Record<string, string>;
  maxParallel: number;
  actor: string;
  trigger: string;
  /** The trigger instance behind the release (DeployRequest.triggerId). */
  triggerId?: string;
  health?: { timeoutSeconds: number; intervalSeconds: number };
  /** An approval gate for every component's deploy (protected environments: four eyes). */
  approval?: { required: true; timeoutSeconds: number; beforeFirstWave?: boolean };
}

export interface ReleaseTrainResult {
  releaseId: string;
  waves: string[][];
  outcome: Record<string, { status: 'succeeded' | 'failed' | 'skipped'; reason?: string; startedAfter?: string[] }>;
}

export async function releaseTrain(input: ReleaseTrainInput): Promise<ReleaseTrainResult> {
  const edges = new Map(Object.entries(input.edges));
  const waves = dependencyWaves(Object.keys(input.versions), edges);
  const dependents = invert(edges);
  const outcome: ReleaseTrainResult['outcome'] = {};
  const completionOrder: string[] = [];
  // Deploy ids changed from dashes to dots (unambiguous); trains recorded before keep theirs.
  const deployOf = (c: string) => {
    const deployId = patched('deploy-id-dots') ? deploymentWorkflowId : legacyDeploymentWorkflowId;
    return executeChild(deployComponent, {
      args: [
        {
          deploymentId: `${deployId(c, input.environment)}-${workflowInfo().workflowId}`,
          component: c,
          version: input.versions[c],
          environment: input.environment,
          canary: input.firstRegion[c],
          actor: input.actor,
          trigger: input.trigger,
          ...(input.triggerId ? { triggerId: input.triggerId } : {}),
          ...(input.health ? { health: input.health } : {}),
          ...(input.approval ? { approval: input.approval } : {}),
        },
      ],
      workflowId: deployId(c, input.environment),
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      staticSummary: `deploy ${c} ${input.versions[c]} to ${input.environment} (release ${input.releaseId})`,
      typedSearchAttributes: [
        { key: SearchAttributes.Component, value: c },
        { key: SearchAttributes.Env, value: input.environment },
        { key: SearchAttributes.Version, value: input.versions[c] },
        { key: SearchAttributes.Trigger, value: input.trigger },
        { key: SearchAttributes.Actor, value: input.actor },
      ],
    }).then((r: DeployResult) => {
      completionOrder.push(c);
      return r;
    });
  };
  if (patched('release-dag-scheduler')) {
    // A component starts as soon as everything it depends on has deployed (up to maxParallel at once):
    // nothing waits for unrelated components of its wave, nor for the slowest of a batch.
    const pending = new Set(Object.keys(input.versions));
    const running = new Map<string, Promise<void>>();
    let cancelled = false;
    while (pending.size || running.size) {
      // The release itself was cancelled (its deploys are told too, and put back what they changed).
      if (CancellationScope.current().consideredCancelled) cancelled = true;
      for (const c of [...pending].sort()) {
        if (cancelled) {
          outcome[c] = { status: 'skipped', reason: 'the release was cancelled' };
          pending.delete(c);
          continue;
        }
        const deps = edges.get(c) ?? [];
        const bad = deps.find((d) => outcome[d] && outcome[d].status !== 'succeeded');
        if (bad) {
          outcome[c] = { status: 'skipped', reason: outcome[bad].status === 'failed' ? `${bad} failed` : (outcome[bad].reason ?? `${bad} was skipped`) };
          pending.delete(c);
          continue;
        }
        if (running.size >= input.maxParallel || !deps.every((d) => outcome[d]?.status === 'succeeded')) continue;
        pending.delete(c);
        const before = [...completionOrder];
        running.set(
          c,
          deployOf(c)
            .then(
              () => void (outcome[c] = { status: 'succeeded', startedAfter: before }),
              (err: unknown) => {
                // A cancelled release cancels its running deploys (they put back what they changed) and starts no more.
                if (isCancellation(err)) cancelled = true;
                outcome[c] = { status: 'failed', reason: isCancellation(err) ? 'cancelled' : failureReason(err) };
              },
            )
            .finally(() => running.delete(c)),
        );
      }
      setCurrentDetails(
        `${input.environment}: deploying ${[...running.keys()].join(', ') || '-'}; ${Object.keys(outcome).length}/${Object.keys(input.versions).length} done`,
      );
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    if (cancelled) {
      setCurrentDetails(
        `${input.environment}: cancelled; ${Object.entries(outcome)
          .map(([c, o]) => `${c} ${o.status}`)
          .join(', ')}`,
      );
      throw new CancelledFailure(`release ${input.releaseId} was cancelled`);
    }
  } else {
    for (const [i, wave] of waves.entries()) {
      const runnable = wave.filter((c) => !outcome[c]);
      setCurrentDetails(`${input.environment}: wave ${i + 1}/${waves.length}: ${runnable.join(', ') || '(skipped)'}`);
      // Bounded parallelism within the wave.
      for (let k = 0; k < runnable.length; k += input.maxParallel) {
        const batch = runnable.slice(k, k + input.maxParallel);
        const before = [...completionOrder];
        const settled = await Promise.allSettled(batch.map((c) => deployOf(c)));
        settled.forEach((s, j) => {
          const c = batch[j];
          if (s.status === 'fulfilled') outcome[c] = { status: 'succeeded', startedAfter: before };
          else {
            outcome[c] = { status: 'failed', reason: failureReason(s.reason) };
            for (const d of closure(c, dependents)) if (!outcome[d]) outcome[d] = { status: 'skipped', reason: `${c} failed` };
          }
        });
      }
    }
  }
  const failed = Object.entries(outcome).filter(([, o]) => o.status !== 'succeeded');
  const result = { releaseId: input.releaseId, waves, outcome };
  if (failed.length) {
    setCurrentDetails(`${input.environment}: ${failed.map(([c, o]) => `${c} ${o.status}`).join(', ')}`);
    throw ApplicationFailure.nonRetryable(
      `release ${input.releaseId}: ${failed.map(([c, o]) => `${c} ${o.status}${o.reason ? ` (${o.reason})` : ''}`).join('; ')}`,
      'ReleaseFailed',
      result,
    );
  }
  setCurrentDetails(`${input.environment}: all ${Object.keys(outcome).length} components deployed`);
  return result;
}
