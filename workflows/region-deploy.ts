/**
 * One region's leg of a deploy (or rollback), on that region's task queue: silence the checks →
 * the platform's step (a rollback leg's revert to its deploy leg's snapshot; a KVM/vSphere snapshot;
 * a Docker pull and replace behind its health gate) → run the deploy action (on each host over SSH
 * for bare metal) → puppet apply → health checks until healthy or a deadline (a failure reverts the
 * snapshot) → unsilence → record the deployment. A failure names the step and the region.
 */
import { ApplicationFailure, CancellationScope, isCancellation, patched, proxyActivities, setCurrentDetails, sleep, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import {
  checkPassSeconds,
  deployParameters,
  silenceSeconds,
  type CheckResult,
  type PuppetSummary,
  type RegionDeployInput,
  type RegionDeployResult,
} from '../common/deploy.js';
import { NON_RETRYABLE, failureReason, recordUnfinished, runActionOptions } from './action-steps.js';
import { runLosable } from './lost-runs.js';
import type { RemoteHost } from '../common/types.js';

type Activities = ReturnType<typeof createActivities>;

/** A bare-metal host's failures that another attempt cannot mend. */
const REMOTE_NON_RETRYABLE = ['HostKeyRefused', 'SshAuthFailed', 'RemoteSetupFailed', 'SecretMissing'];
const PUPPET_RETRY = { maximumAttempts: 2, nonRetryableErrorTypes: ['PuppetFailed', 'PuppetMissing', 'BadRole', ...REMOTE_NON_RETRYABLE] };

export async function regionDeploy(input: RegionDeployInput): Promise<RegionDeployResult> {
  const { snapshot: s, region, version, environment, kind } = input;
  const label = `${region}: ${kind === 'rollback' ? 'rolling back' : 'deploying'} ${s.name} ${version}`;
  const quick = proxyActivities<Activities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 5 } });
  const puppetOptions = { startToCloseTimeout: '15m', heartbeatTimeout: '30s', summary: `puppet apply ${s.puppetRole ?? ''} (${s.name} ${version})` };
  const puppet = proxyActivities<Activities>({ ...puppetOptions, retry: PUPPET_RETRY });
  const puppetOnce = proxyActivities<Activities>({ ...puppetOptions, retry: { maximumAttempts: 1 } });
  // Since this patch a lost worker is not retried blindly (workflows/lost-runs.ts).
  const lostAware = patched('lost-worker-deploy');
  const checks = proxyActivities<Activities>({
    startToCloseTimeout: '5m',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['BadCheck'] },
    summary: `checks of ${s.name}`,
  });
  /** KVM and vSphere steps, each with its own summary in the Web UI. */
  const kvmActs = (what: string) =>
    proxyActivities<Activities>({
      startToCloseTimeout: '15m',
      heartbeatTimeout: '60s',
      retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['LibvirtFailed', 'VsphereFailed', 'SecretMissing'] },
      summary: `${what} (${s.name} in ${region})`,
    });
  const { workflowId, runId } = workflowInfo();
  const record = (status: 'running' | 'succeeded' | 'failed', reason: string | null, puppetSummary: PuppetSummary | null) =>
    CancellationScope.nonCancellable(() =>
      quick.recordDeployment({
        id: input.recordId,
        component: s.name,
        version,
        environment,
        region,
        kind,
        status,
        previousVersion: input.previousVersion,
        actor: input.actor,
        trigger: input.trigger,
        triggerId: input.triggerId ?? null,
        workflowId,
        runId,
        reason,
        puppet: puppetSummary,
        approvedBy: input.approvedBy ?? null,
      }),
    );
  let step = 'record';
  let silences: string[] = [];
  let puppetSummary: PuppetSummary | null = null;
  let platform: RegionDeployResult['platform'];
  let kvmSnapshot: { uri: string; domains: string[]; name: string } | undefined;
  let vsphereTarget: { endpoint: string; username: string; password: string; vms: string[]; snapshot: string } | undefined;
  try {
    await record('running', null, null);
    step = 'silence checks';
    setCurrentDetails(`${label}: silencing ${s.checks.length} check(s)`);
    // A rollback goes on even when Sensu cannot be reached.
    silences = await quick.sensuSilence({
      component: s.name,
      environment,
      checks: s.checks,
      reason: `${kind} ${s.name} ${version} by ${input.actor}`,
      actor: input.actor,
      bestEffort: kind === 'rollback',
      expireSeconds: silenceSeconds(input),
    });

    // A rollback of a region whose deploy leg snapshotted its machines: the platform's own undo first.
    const undoTo = kind === 'rollback' ? input.revertTo : undefined;
    if (undoTo && s.platformSettings?.platform === 'kvm') {
      const kvm = s.platformSettings.kvm;
      step = `kvm: revert to snapshot ${undoTo}`;
      setCurrentDetails(`${label}: reverting ${(kvm.domains[region] ?? []).join(', ')} to snapshot ${undoTo}`);
      const r = await kvmActs(`revert KVM domains to ${undoTo}`).kvmRevert({
        uri: kvm.uri[region] ?? '',
        domains: kvm.domains[region] ?? [],
        snapshot: undoTo,
      });
      platform = { revertedTo: undoTo, domains: r };
    }
    if (undoTo && s.platformSettings?.platform === 'vsphere') {
      const vs = s.platformSettings.vsphere;
      step = `vsphere: revert to snapshot ${undoTo}`;
      setCurrentDetails(`${label}: reverting ${(vs.vms[region] ?? []).join(', ')} to snapshot ${undoTo}`);
      const r = await kvmActs(`revert vSphere VMs to ${undoTo}`).vsphereRevert({
        endpoint: vs.endpoint[region] ?? '',
        username: vs.username,
        password: vs.password,
        vms: vs.vms[region] ?? [],
        snapshot: undoTo,
      });
      platform = { revertedTo: undoTo, vms: r };
    }

    // A KVM component's domains are snapshotted before anything changes; a failure of the leg reverts them.
    const kvm = kind === 'deploy' && s.platformSettings?.platform === 'kvm' && patched('platform-steps') ? s.platformSettings.kvm : undefined;
    if (kvm && (kvm.domains[region] ?? []).length) {
      const stamp = new Date(Date.now()).toISOString().replace(/\D/g, '').slice(0, 17);
      const name = `stackwire-${stamp}-${input.deploymentId.replace(/[^A-Za-z0-9]/g, '').slice(-8)}`;
      step = `kvm: snapshot ${kvm.domains[region].join(', ')}`;
      setCurrentDetails(`${label}: snapshot of ${kvm.domains[region].join(', ')} (${name})`);
      const taken = await kvmActs(`snapshot KVM domains as ${name}`).kvmSnapshot({
        component: s.name,
        region,
        uri: kvm.uri[region] ?? '',
        domains: kvm.domains[region],
        snapshot: name,
        keep: kvm.keepSnapshots,
      });
      kvmSnapshot = { uri: kvm.uri[region] ?? '', domains: kvm.domains[region], name };
      platform = { snapshot: name, domains: taken };
    }
    // A vSphere component's VMs likewise, through the vCenter of the region.
    const vs = kind === 'deploy' && s.platformSettings?.platform === 'vsphere' && patched('platform-steps') ? s.platformSettings.vsphere : undefined;
    if (vs && (vs.vms[region] ?? []).length) {
      const stamp = new Date(Date.now()).toISOString().replace(/\D/g, '').slice(0, 17);
      const name = `stackwire-${stamp}-${input.deploymentId.replace(/[^A-Za-z0-9]/g, '').slice(-8)}`;
      step = `vsphere: snapshot ${vs.vms[region].join(', ')}`;
      setCurrentDetails(`${label}: snapshot of ${vs.vms[region].join(', ')} (${name})`);
      vsphereTarget = { endpoint: vs.endpoint[region] ?? '', username: vs.username, password: vs.password, vms: vs.vms[region], snapshot: name };
      const taken = await kvmActs(`snapshot vSphere VMs as ${name}`).vsphereSnapshot({ ...vsphereTarget, keep: vs.keepSnapshots });
      platform = { snapshot: name, vms: taken };
    }

    // A docker component's container is replaced (pull, replace, health gate) before its deploy action;
    // a rollback leg replaces it with the previous version's image the same way.
    const docker = s.platformSettings?.platform === 'docker' && patched('platform-steps') ? s.platformSettings.docker : undefined;
    if (docker) {
      step = `docker: replace container ${docker.container}`;
      setCurrentDetails(`${label}: pulling ${docker.image}:${version} and replacing container ${docker.container}`);
      const dockerActs = proxyActivities<Activities>({
        startToCloseTimeout: `${docker.healthTimeout + 600}s`,
        heartbeatTimeout: '60s',
        retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['ContainerUnhealthy', 'SecretMissing', 'DockerFailed'] },
        summary: `docker: ${docker.image}:${version} as ${docker.container} in ${region}`,
      });
      platform = {
        ...(await dockerActs.dockerDeploy({
          component: s.name,
          deploymentId: input.deploymentId,
          region,
          version,
          endpoint: docker.endpoint[region] ?? '',
          image: docker.image,
          container: docker.container,
          ports: docker.ports,
          env: docker.env,
          healthTimeoutSeconds: docker.healthTimeout,
        })),
      };
    }

    // A bare-metal component's hosts in this region are deployed one after the other, each over SSH:
    // the deploy action, then puppet apply, on the host itself. Other platforms: both on the worker.
    const bare = s.platformSettings?.platform === 'bare-metal' ? s.platformSettings.bareMetal : undefined;
    const hosts = bare && (bare.hosts[region] ?? []).length && patched('bare-metal-ssh') ? bare.hosts[region] : [];
    const targets: (RemoteHost | undefined)[] =
      bare && hosts.length
        ? hosts.map((host) => ({ host, port: bare.port, user: bare.sshUser, sshKey: bare.sshKey, knownHosts: bare.knownHosts }))
        : [undefined];
    if (bare && hosts.length) platform = { hosts: hosts.map((h) => `${bare.sshUser}@${h}:${bare.port}`) };
    const action = kind === 'rollback' ? (s.rollbackAction ?? s.deployAction) : s.deployAction;
    for (const remote of targets) {
      const on = remote ? ` on ${remote.host}` : '';
      const at = remote ? `@${remote.host}` : '';
      if (action) {
        step = `${kind} action ${action.name}${on}`;
        setCurrentDetails(`${label}: running ${action.name}${on}`);
        const runInput = {
          executionId: `${input.recordId}.action${at}`,
          action,
          parameters: deployParameters(action, s, version, environment, region),
          region,
          actor: input.actor,
          trigger: `deploy:${input.deploymentId}`,
          parentId: input.deploymentId,
          ...(remote ? { remote } : {}),
        };
        try {
          const options = runActionOptions(runInput, `${action.name} ${s.name} ${version}${on}`);
          if (lostAware) {
            const once = proxyActivities<Activities>({ ...options, retry: { ...options.retry, maximumAttempts: 1 } });
            await runLosable({
              executionId: runInput.executionId,
              summary: `${label}: ${action.name}${on}`,
              running: (attempt) => `${label}: running ${action.name}${on}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
              idempotent: action.idempotent === true,
              maxAttempts: action.maxAttempts,
              nonRetryable: [...NON_RETRYABLE, ...REMOTE_NON_RETRYABLE],
              attempt: (attempt) => once.runAction({ ...runInput, attempt }),
              recordLost: (status, note, attempt) => quick.recordLostExecution({ executionId: runInput.executionId, status, note, attempt }),
              markedSucceeded: () => undefined,
              region,
            });
          } else await proxyActivities<Activities>(options).runAction(runInput);
        } catch (err) {
          // The execution row must not stay "running" when the worker was lost or the run cancelled.
          if (!(err instanceof ApplicationFailure && err.type === 'ActionLost'))
            await recordUnfinished(quick, runInput, isCancellation(err) ? 'cancelled' : 'failed', failureReason(err));
          throw err;
        }
      }
      if (s.puppetRole) {
        step = `puppet apply${on}`;
        setCurrentDetails(`${label}: puppet apply ${s.puppetRole}${on}`);
        const apply = { component: s.name, role: s.puppetRole, hiera: s.hiera, version, environment, noop: false, ...(remote ? { remote } : {}) };
        puppetSummary = lostAware
          ? // Puppet converges: a run whose worker was lost is simply run again on another worker.
            await runLosable({
              executionId: `${input.recordId}.puppet${at}`,
              summary: `${label}: puppet apply ${s.puppetRole}${on}`,
              running: (attempt) => `${label}: puppet apply ${s.puppetRole}${on}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
              idempotent: true,
              maxAttempts: PUPPET_RETRY.maximumAttempts,
              nonRetryable: PUPPET_RETRY.nonRetryableErrorTypes,
              attempt: () => puppetOnce.puppetApply(apply),
              recordLost: () => Promise.resolve(),
              markedSucceeded: () => null,
              region,
              lostTooOften: 'fail',
            })
          : await puppet.puppetApply(apply);
      }
    }
    step = 'health checks';
    let results: CheckResult[] = [];
    let attempts = 0;
    const maxAttempts = Math.max(1, Math.floor(input.health.timeoutSeconds / input.health.intervalSeconds) + 1);
    // The deadline is time, not a number of passes: slow checks must not stretch it (workflow time is deterministic).
    // Since this patch the waiting is one heartbeating activity: a loop of activities and timers here
    // (1-second interval, a day's deadline) would pass Temporal's history limit.
    const inActivity = s.checks.length > 0 && patched('health-checks-in-activity');
    const byTime = inActivity || patched('health-deadline-by-time');
    const deadline = Date.now() + input.health.timeoutSeconds * 1000;
    if (inActivity) {
      const waitSeconds = input.health.timeoutSeconds + checkPassSeconds(s.checks) + 60;
      const health = proxyActivities<Activities>({
        startToCloseTimeout: `${waitSeconds}s`,
        scheduleToCloseTimeout: `${waitSeconds * 2}s`,
        heartbeatTimeout: '30s',
        retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['BadCheck', 'Unhealthy'] },
        summary: `health checks of ${s.name} (${input.health.timeoutSeconds}s, every ${input.health.intervalSeconds}s)`,
      });
      setCurrentDetails(
        `${label}: waiting for ${s.checks.map((c) => c.name).join(', ')} healthy, at most ${input.health.timeoutSeconds}s (the awaitHealthy activity's heartbeat says how far)`,
      );
      const r = await health.awaitHealthy({
        component: s.name,
        environment,
        version,
        checks: s.checks,
        intervalSeconds: input.health.intervalSeconds,
        timeoutSeconds: input.health.timeoutSeconds,
        deadline,
      });
      results = r.results;
      attempts = r.attempts;
    } else if (s.checks.length) {
      for (;;) {
        attempts++;
        results = await checks.runChecks({ component: s.name, environment, version, checks: s.checks });
        const failing = results.filter((r) => r.status !== 0);
        if (failing.length === 0) break;
        const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
        setCurrentDetails(
          `${label}: waiting for ${failing.map((f) => f.name).join(', ')} healthy, ${byTime ? `attempt ${attempts}, ${left}s left` : `${attempts}/${maxAttempts}`}`,
        );
        const over = byTime ? Date.now() + input.health.intervalSeconds * 1000 > deadline : attempts >= maxAttempts;
        if (over)
          throw ApplicationFailure.nonRetryable(
            `not healthy ${byTime ? `within ${input.health.timeoutSeconds}s (${attempts} attempts)` : `after ${attempts} attempts`}: ${failing.map((f) => `${f.name}: ${f.output}`).join('; ')}`,
            'Unhealthy',
          );
        await sleep(`${input.health.intervalSeconds}s`);
      }
    }
    step = 'unsilence checks';
    await quick.sensuUnsilence(silences);
    silences = [];
    await record('succeeded', null, puppetSummary);
    setCurrentDetails(`${label}: done`);
    return { region, version, kind, status: 'succeeded', puppet: puppetSummary, checks: results, healthAttempts: attempts, ...(platform ? { platform } : {}) };
  } catch (err) {
    let undo = '';
    if (kvmSnapshot) {
      // The platform's own undo first: the domains go back to the snapshot taken before this leg changed anything.
      const snap = kvmSnapshot;
      undo = await CancellationScope.nonCancellable(async () => {
        try {
          const r = await kvmActs(`revert KVM domains to ${snap.name}`).kvmRevert({ uri: snap.uri, domains: snap.domains, snapshot: snap.name });
          return `; reverted ${r.map((x) => `${x.domain} to snapshot ${snap.name} (current snapshot: ${x.current})`).join(', ')}`;
        } catch (e) {
          return `; the revert to snapshot ${snap.name} failed: ${failureReason(e)}`;
        }
      });
    }
    if (vsphereTarget) {
      const target = vsphereTarget;
      undo = await CancellationScope.nonCancellable(async () => {
        try {
          const r = await kvmActs(`revert vSphere VMs to ${target.snapshot}`).vsphereRevert(target);
          return `; reverted ${r.map((x) => `${x.vm} to snapshot ${target.snapshot} (current snapshot: ${x.current})`).join(', ')}`;
        } catch (e) {
          return `; the revert to snapshot ${target.snapshot} failed: ${failureReason(e)}`;
        }
      });
    }
    const reason = `${step} failed in ${region}: ${failureReason(err)}${undo}`;
    setCurrentDetails(`${label}: ${reason}`);
    // When a rollback of this region follows, it re-silences the same checks and lifts them at its end;
    // the silences carry an expiry in case it never comes.
    await CancellationScope.nonCancellable(async () => {
      if (silences.length && !input.keepSilenceOnFailure) await quick.sensuUnsilence(silences);
    });
    await record('failed', reason, puppetSummary);
    throw ApplicationFailure.nonRetryable(reason, 'RegionDeployFailed', { region, step });
  }
}
