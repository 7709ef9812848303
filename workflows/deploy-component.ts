/**
 * A deploy of one component version to one environment, on the orchestrator: the source-of-truth
 * snapshot is read once and pinned; regions roll out in waves (the canary first, then the rest in
 * parallel), each a `regionDeploy` child on the region's queue; an optional approval gate waits
 * between waves. On failure every region this run touched is rolled back to its previous version
 * and the deploy ends failed, naming the step and region. One deploy per component and environment
 * at a time: the workflow id is deploy-<component>-<environment>.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  condition,
  executeChild,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import type { ComponentSnapshot, DeployRequest, DeployResult, RegionDeployInput, RegionDeployResult } from '../common/deploy.js';
import { failureReason } from './action-steps.js';
import { regionDeploy } from './region-deploy.js';
import { approveSignal, approveUpdate, deployStatusQuery, rejectSignal, rejectUpdate } from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

function runRegion(
  req: DeployRequest,
  snapshot: ComponentSnapshot,
  region: string,
  version: string,
  kind: 'deploy' | 'rollback',
  approvedBy?: string,
  revertTo?: string,
): Promise<RegionDeployResult> {
  const input: RegionDeployInput = {
    deploymentId: req.deploymentId,
    recordId: `${req.deploymentId}.${region}.${kind}`,
    snapshot,
    version,
    previousVersion: kind === 'deploy' ? (snapshot.previousVersions[region] ?? null) : req.version,
    environment: req.environment,
    region,
    kind,
    actor: req.actor,
    trigger: req.trigger,
    ...(req.triggerId ? { triggerId: req.triggerId } : {}),
    health: req.health ?? { timeoutSeconds: 60, intervalSeconds: 5 },
    ...(approvedBy ? { approvedBy } : {}),
    ...(kind === 'deploy' && snapshot.previousVersions[region] ? { keepSilenceOnFailure: true } : {}),
    ...(revertTo ? { revertTo } : {}),
  };
  return executeChild(regionDeploy, {
    args: [input],
    workflowId: `${req.deploymentId}.${region}.${kind}`,
    taskQueue: regionTaskQueue(region),
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    staticSummary: `${kind} ${snapshot.name} ${version} to ${req.environment}/${region}`,
    typedSearchAttributes: [
      { key: SearchAttributes.Component, value: snapshot.name },
      { key: SearchAttributes.Env, value: req.environment },
      { key: SearchAttributes.Region, value: region },
      { key: SearchAttributes.Version, value: version },
      { key: SearchAttributes.Trigger, value: req.trigger },
      { key: SearchAttributes.Actor, value: req.actor },
    ],
  });
}

/** The snapshot a region's successful deploy leg took (KVM, vSphere), for its rollback leg to revert to. */
function revertTo(results: RegionDeployResult[], region: string): string | undefined {
  const snap = results.find((r) => r.region === region)?.platform?.snapshot;
  return typeof snap === 'string' && patched('platform-rollback-revert') ? snap : undefined;
}

export async function deployComponent(req: DeployRequest): Promise<DeployResult> {
  let phase = 'reading the source of truth';
  let waves: string[][] = [];
  const done: string[] = [];
  let approval: { actor: string } | undefined;
  let rejection: { actor: string; reason?: string } | undefined;
  let awaitingApproval = false;
  // A signal counts only while a gate is open: nobody approves a wave in advance.
  setHandler(approveSignal, (a) => {
    if (awaitingApproval) approval ??= a;
  });
  setHandler(rejectSignal, (r) => {
    if (awaitingApproval) rejection ??= r;
  });
  const gateOpen = () => {
    if (!awaitingApproval || approval !== undefined || rejection !== undefined) throw new Error('this deploy is not waiting at an undecided approval gate.');
  };
  setHandler(
    approveUpdate,
    (a) => {
      approval = a;
      return { approvedBy: a.actor };
    },
    { validator: (_a) => gateOpen() },
  );
  setHandler(
    rejectUpdate,
    (r) => {
      rejection = r;
      return { rejectedBy: r.actor };
    },
    { validator: (_r) => gateOpen() },
  );
  setHandler(deployStatusQuery, () => ({ phase, waves, done, awaitingApproval }));

  // The snapshot is read by a worker of the first region and carried in history: the run is pinned to it.
  const firstRegion = req.canary ?? req.regions?.[0];
  const snapshotActs = proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['UnknownComponent', 'NotPlaced', 'UnknownAction'] },
    taskQueue: regionTaskQueue(firstRegion ?? 'unset'),
    summary: 'read the source of truth',
  });
  if (!firstRegion) throw ApplicationFailure.nonRetryable('the deploy request names no region to read the source of truth from', 'BadRequest');
  setCurrentDetails(phase);
  const snapshot = await snapshotActs.loadDeploySnapshot({ component: req.component, environment: req.environment });
  const regions = req.regions ?? snapshot.regions;
  const unplaced = regions.filter((r) => !snapshot.regions.includes(r));
  if (unplaced.length)
    throw ApplicationFailure.nonRetryable(
      `${req.component} is not placed in ${unplaced.join(', ')} for ${req.environment} (it runs in ${snapshot.regions.join(', ')})`,
      'NotPlaced',
    );
  const canary = req.canary ?? regions[0];
  const rest = regions.filter((r) => r !== canary);
  waves = rest.length ? [[canary], rest] : [[canary]];

  const results: RegionDeployResult[] = [];
  const touched: string[] = [];
  try {
    for (const [i, wave] of waves.entries()) {
      // Input-driven (no patch needed): histories recorded before beforeFirstWave existed lack it.
      if ((i > 0 || req.approval?.beforeFirstWave === true) && req.approval?.required) {
        phase = `waiting for approval before ${wave.join(', ')} (deadline ${req.approval.timeoutSeconds}s)`;
        awaitingApproval = true;
        setCurrentDetails(phase);
        const decided = await condition(() => approval !== undefined || rejection !== undefined, `${req.approval.timeoutSeconds}s`);
        awaitingApproval = false;
        if (!decided) {
          if (patched('audit-gate-timeout')) {
            await snapshotActs.auditGateTimeout({
              deploymentId: req.deploymentId,
              workflowId: workflowInfo().workflowId,
              runId: workflowInfo().runId,
              component: req.component,
              version: req.version,
              environment: req.environment,
              before: wave,
              timeoutSeconds: req.approval.timeoutSeconds,
              requestedBy: req.actor,
            });
          }
          throw ApplicationFailure.nonRetryable(
            `approval gate: no approval within ${req.approval.timeoutSeconds}s before ${wave.join(', ')}`,
            'ApprovalTimedOut',
          );
        }
        if (rejection)
          throw ApplicationFailure.nonRetryable(
            `approval gate: rejected by ${rejection.actor}${rejection.reason ? `: ${rejection.reason}` : ''}`,
            'ApprovalRejected',
          );
      }
      phase = `wave ${i + 1}/${waves.length}: ${wave.join(', ')}`;
      setCurrentDetails(`${req.component} ${req.version} → ${req.environment}: ${phase}`);
      touched.push(...wave);
      const settled = await Promise.allSettled(wave.map((r) => runRegion(req, snapshot, r, req.version, 'deploy', approval?.actor)));
      const failed = settled.flatMap((s, j) => (s.status === 'rejected' ? [`${failureReason(s.reason)} (${wave[j]})`] : []));
      for (const s of settled) if (s.status === 'fulfilled') results.push(s.value);
      done.push(...wave.filter((_, j) => settled[j].status === 'fulfilled'));
      if (failed.length) throw ApplicationFailure.nonRetryable(failed.join('; '), 'DeployFailed');
    }
  } catch (err) {
    const reason = failureReason(err);
    // Roll every touched region back to what it ran before this deploy.
    const back = touched.filter((r) => snapshot.previousVersions[r]);
    phase = back.length ? `rolling back ${back.join(', ')}` : 'failed (nothing to roll back to)';
    setCurrentDetails(`${req.component}: ${reason}; ${phase}`);
    // Even a cancelled deploy puts back what it changed.
    const rollbacks = await CancellationScope.nonCancellable(() =>
      Promise.allSettled(back.map((r) => runRegion(req, snapshot, r, snapshot.previousVersions[r]!, 'rollback', undefined, revertTo(results, r)))),
    );
    const rbFailed = rollbacks.flatMap((s, j) => (s.status === 'rejected' ? [`rollback of ${back[j]} failed: ${failureReason(s.reason)}`] : []));
    // Regions that never ran an earlier version keep the new one: say so rather than imply a full rollback.
    const kept = touched.filter((r) => !snapshot.previousVersions[r] && done.includes(r));
    throw ApplicationFailure.nonRetryable(
      `deploy of ${req.component} ${req.version} to ${req.environment} failed: ${reason}${back.length ? `; rolled back ${back.map((r) => `${r} to ${snapshot.previousVersions[r]}`).join(', ')}` : ''}${rbFailed.length ? `; ${rbFailed.join('; ')}` : ''}${kept.length ? `; left on ${req.version} (no earlier version to roll back to): ${kept.join(', ')}` : ''}`,
      'DeployFailed',
    );
  }
  phase = 'done';
  setCurrentDetails(`${req.component} ${req.version} → ${req.environment}: done in ${regions.join(', ')}`);
  return {
    deploymentId: req.deploymentId,
    component: req.component,
    version: req.version,
    environment: req.environment,
    waves,
    regions: results,
    ...(approval ? { approvedBy: approval.actor } : {}),
  };
}
