/**
 * What one pipeline step does, by kind: an action (an activity on its region's queue, or a local
 * activity for short idempotent ones on the workflow's own region), an approval (an update decides it),
 * a sleep, a sub-pipeline (a child `pipelineRun`), a for_each (a child `pipelineForEach`). Deterministic.
 */
import { ApplicationFailure, executeChild, type LocalActivityOptions, patched, proxyActivities, proxyLocalActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { ORCHESTRATOR_TASK_QUEUE, deploymentWorkflowId, regionTaskQueue } from '../common/constants.js';
import type { DeployRequest } from '../common/deploy.js';
import { durationSeconds, type PipelineDef, type PipelineRunRequest, type StepDef } from '../common/pipeline.js';
import { evaluateValue, type Contexts } from '../common/pipeline-expressions.js';
import type { RunActionInput, RunActionResult } from '../common/types.js';
import { NON_RETRYABLE, displayCommand, runActionOptions } from './action-steps.js';
import { runLosable } from './lost-runs.js';

/** How long an action step waits for a worker of its region when the step does not say (worker_wait). */
export const DEFAULT_WORKER_WAIT_SECONDS = 300;

/**
 * The patches of action steps, decided once, in the run's first workflow task (decideStepPatches).
 * Not at each step: a step that follows a local activity starts in whichever activation resolves it,
 * and that activation is not the same workflow task in the first execution (a slow local activity
 * heartbeats its workflow task first) as in a replay. patched() answers by the markers of the task
 * being replayed, so a marker recorded in a later task than the replay reaches it in is a
 * nondeterminism error (seen: `lost-worker-pipeline` after a 9 s local step on a loaded machine).
 * Module state is the run's own: each workflow runs in a context of its own.
 */
let stepPatches: { lostWorker: boolean; noWorkerDeadline: boolean } | undefined;

/**
 * Called first thing by pipelineRun (pipeline files) and pipelineForEach. `no-worker-deadline`, decided
 * here, brings both the deadline and the lost-worker handling; a run started before it decides
 * `lost-worker-pipeline` at each step, as it did.
 */
export function decideStepPatches(): void {
  stepPatches = patched('no-worker-deadline') ? { lostWorker: true, noWorkerDeadline: true } : undefined;
}
import { deployComponent } from './deploy-component.js';
import { releaseTrain } from './release-train.js';

type Activities = ReturnType<typeof createActivities>;

/** A step's outputs from its script: the JSON object on its last line of output, else the output's tail. */
export function actionOutputs(r: RunActionResult): Record<string, unknown> {
  const lines = r.stdoutTail.trimEnd().split('\n');
  const last = lines[lines.length - 1]?.trim() ?? '';
  if (last.startsWith('{') && last.endsWith('}')) {
    try {
      const v = JSON.parse(last) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not JSON: the tail below
    }
  }
  return { stdout: r.stdoutTail.trimEnd() };
}

/** Seconds of a duration the validator accepted; a non-retryable failure naming it otherwise. */
export function seconds(v: string | number, what: string): number {
  const s = durationSeconds(v);
  if (s === undefined) throw ApplicationFailure.nonRetryable(`${what}: ${JSON.stringify(v)} is not a duration (e.g. 30s, 5m, 2h)`, 'PipelineInvalid');
  return s;
}

/** A value that must be a list (regions, for_each), evaluated. */
export function listOf(v: unknown, ctx: Contexts, what: string): unknown[] {
  const out = typeof v === 'string' ? evaluateValue(v, ctx) : v;
  if (!Array.isArray(out)) throw ApplicationFailure.nonRetryable(`${what} is not a list (it is ${JSON.stringify(out)?.slice(0, 200)})`, 'PipelineInvalid');
  return out;
}

/** Inputs for a (sub-)pipeline: given values, defaults for the rest, a clear failure for a missing required one. */
export function withDefaults(def: PipelineDef, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...given };
  for (const [name, spec] of Object.entries(def.inputs ?? {})) {
    if (out[name] === undefined && spec.default !== undefined) out[name] = spec.default;
    if (out[name] === undefined && spec.required)
      throw ApplicationFailure.nonRetryable(
        `pipeline ${def.name}: input ${name} is required${spec.description ? ` (${spec.description})` : ''}`,
        'PipelineInvalid',
      );
  }
  return out;
}

/** Runs one action for a step in one region; the step's retry and timeout override the action's. */
export async function runActionStep(
  req: Pick<PipelineRunRequest, 'actions' | 'actor' | 'runId' | 'defaultRegion' | 'definition'>,
  s: StepDef,
  parameters: Record<string, unknown>,
  region: string,
  executionId: string,
): Promise<Record<string, unknown>> {
  const spec = req.actions[s.action!];
  if (!spec) throw ApplicationFailure.nonRetryable(`action ${s.action} was not pinned with the run`, 'PipelineInvalid');
  const timeoutSeconds = s.timeout !== undefined ? seconds(s.timeout, `steps.${s.id}.timeout`) : spec.timeoutSeconds;
  const action = { ...spec, timeoutSeconds: Math.max(1, Math.round(timeoutSeconds)), maxAttempts: s.retry?.attempts ?? spec.maxAttempts };
  const input: RunActionInput = {
    executionId,
    action,
    parameters,
    region,
    actor: req.actor,
    trigger: `pipeline:${req.definition.name}`,
    parentId: req.runId,
    validate: true,
  };
  const opts = runActionOptions(input, `${s.id}: ${displayCommand(input)}`);
  if (s.retry?.backoff !== undefined) opts.retry = { ...opts.retry, initialInterval: `${Math.max(0.01, s.retry.backoff)}s` };
  // Short idempotent steps in the workflow's own region: local activities, no server round trip each (README: fast short steps).
  // (By the input, not workflowInfo().taskQueue: a replaying worker has a queue of its own, and the decision must replay.)
  const local = spec.idempotent === true && timeoutSeconds <= 30 && region === req.defaultRegion;
  const localOpts: LocalActivityOptions = { startToCloseTimeout: opts.startToCloseTimeout ?? '60s', ...(opts.retry ? { retry: opts.retry } : {}) };
  if (local) return actionOutputs(await proxyLocalActivities<Activities>(localOpts).runAction(input));
  // Since this patch a lost worker is not retried blindly (workflows/lost-runs.ts); a local step is
  // idempotent and re-runs with its workflow task.
  // Runs started before decideStepPatches existed decide here, as they did (replay).
  const patches = stepPatches ?? { lostWorker: patched('lost-worker-pipeline'), noWorkerDeadline: false };
  if (!patches.lostWorker) return actionOutputs(await proxyActivities<Activities>({ ...opts, taskQueue: regionTaskQueue(region) }).runAction(input));
  // Since this patch a step waits for a worker of its region for worker_wait (default 5 minutes), then
  // fails naming the region, instead of waiting for ever in a queue nobody polls.
  const workerWait = patches.noWorkerDeadline
    ? s.worker_wait !== undefined
      ? seconds(s.worker_wait, `steps.${s.id}.worker_wait`)
      : DEFAULT_WORKER_WAIT_SECONDS
    : undefined;
  const once = proxyActivities<Activities>({
    ...opts,
    taskQueue: regionTaskQueue(region),
    retry: { ...opts.retry, maximumAttempts: 1 },
    ...(workerWait !== undefined ? { scheduleToStartTimeout: `${Math.max(1, Math.round(workerWait))}s` } : {}),
  });
  const book = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 10 }, summary: 'record outcome' });
  const summary = `step ${s.id}: ${spec.name} on ${region}`;
  return actionOutputs(
    await runLosable({
      executionId,
      summary,
      running: (attempt) => `${summary}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
      idempotent: spec.idempotent === true,
      maxAttempts: action.maxAttempts,
      nonRetryable: NON_RETRYABLE,
      ...(s.retry?.backoff !== undefined ? { backoffSeconds: Math.max(0.01, s.retry.backoff) } : {}),
      ...(workerWait !== undefined ? { workerWaitSeconds: Math.max(1, Math.round(workerWait)) } : {}),
      attempt: (attempt) => once.runAction({ ...input, attempt }),
      recordLost: (status, note, attempt) => book.recordLostExecution({ executionId, status, note, attempt }),
      markedSucceeded: () => ({
        executionId,
        status: 'succeeded',
        exitCode: null,
        signal: null,
        stdoutTail: '',
        stderrTail: '',
        durationMs: 0,
        worker: '',
        region,
      }),
      region,
    }),
  );
}

/** An approval step: waits for a decision (the `decideStep` update) until its deadline. */
export async function awaitDecision(
  s: StepDef,
  wait: (timeoutMs: number) => Promise<{ actor: string; approve: boolean; reason?: string } | undefined>,
): Promise<{ outputs: Record<string, unknown>; decidedBy: string }> {
  const deadline = seconds(s.approval!.deadline, `steps.${s.id}.approval.deadline`);
  const d = await wait(deadline * 1000);
  if (!d) throw ApplicationFailure.nonRetryable(`no decision within ${s.approval!.deadline}`, 'ApprovalTimedOut');
  if (!d.approve) throw ApplicationFailure.nonRetryable(`rejected by ${d.actor}${d.reason ? `: ${d.reason}` : ''}`, 'ApprovalRejected');
  return { outputs: { approved_by: d.actor }, decidedBy: d.actor };
}

export async function sleepStep(s: StepDef): Promise<Record<string, unknown>> {
  await sleep(seconds(s.sleep!, `steps.${s.id}.sleep`) * 1000);
  return {};
}

const PROTECTED_GATE_SECONDS = 86_400;

/** The trigger instance a run was started for (a push's, a rule's: `trigger.id`), passed on to the deploys it asks for. */
function triggerIdOf(req: PipelineRunRequest): { triggerId?: string } {
  const id = req.trigger?.id;
  return typeof id === 'string' && id ? { triggerId: id } : {};
}

/** A field of an evaluated built-in as text ('' when absent). */
function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/**
 * A `deploy:` step: the component (default: the run's) to an environment, as `stackwire deploy` does —
 * a child `deployComponent` under the one workflow id a deploy of it may have, so a concurrent deploy
 * fails the step instead of running twice. Protected environments always get the before-first-wave gate.
 */
export async function deployStep(req: PipelineRunRequest, s: StepDef, ctx: Contexts): Promise<Record<string, unknown>> {
  const d = evaluateValue(s.deploy, ctx) as Record<string, unknown>;
  const component = text(d.component ?? (req.component as { name?: string } | undefined)?.name ?? '');
  const environment = text(d.environment ?? '');
  const version = text(d.version ?? '');
  if (!component || !environment || !version)
    throw ApplicationFailure.nonRetryable(`steps.${s.id}.deploy needs component (or a component run), environment and version`, 'PipelineInvalid');
  const workflowId = deploymentWorkflowId(component, environment);
  const isProtected = (req.protectedEnvironments ?? []).includes(environment);
  const approvalSeconds =
    d.approval_timeout !== undefined ? seconds(d.approval_timeout as string | number, `steps.${s.id}.deploy.approval_timeout`) : undefined;
  // Where it runs in that environment, from the source of truth (read on a regional worker), unless the step says.
  const regions = Array.isArray(d.regions)
    ? d.regions.map(text)
    : (
        await proxyActivities<Activities>({
          startToCloseTimeout: '1m',
          retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['UnknownComponent', 'NotPlaced'] },
          taskQueue: regionTaskQueue(req.defaultRegion),
          summary: `${s.id}: where ${component} runs in ${environment}`,
        }).loadDeploySnapshot({ component, environment })
      ).regions;
  const request: DeployRequest = {
    deploymentId: `${workflowId}-${req.runId.slice(-10)}`,
    component,
    version,
    environment,
    regions,
    ...(typeof d.canary === 'string' ? { canary: d.canary } : {}),
    ...(isProtected || approvalSeconds !== undefined
      ? {
          approval: {
            required: true,
            timeoutSeconds: Math.round(approvalSeconds ?? PROTECTED_GATE_SECONDS),
            ...(isProtected ? { beforeFirstWave: true } : {}),
          },
        }
      : {}),
    ...(d.health && typeof d.health === 'object' ? { health: d.health as DeployRequest['health'] } : {}),
    actor: req.actor,
    trigger: `pipeline:${req.definition.name}`,
    ...triggerIdOf(req),
  };
  const r = await executeChild(deployComponent, {
    workflowId,
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    args: [request],
    staticSummary: `deploy ${component} ${version} to ${environment} (pipeline ${req.definition.name}, step ${s.id})`,
  });
  return { deployment_id: r.deploymentId, version: r.version, waves: r.waves, ...(r.approvedBy ? { approved_by: r.approvedBy } : {}) };
}

/** A `check:` step: one pass of the component's Sensu checks in an environment, on each of its regions; any non-OK fails it. */
export async function checkStep(req: PipelineRunRequest, s: StepDef, ctx: Contexts): Promise<Record<string, unknown>> {
  const c = evaluateValue(s.check, ctx) as Record<string, unknown>;
  const component = text(c.component ?? (req.component as { name?: string } | undefined)?.name ?? '');
  const environment = text(c.environment ?? '');
  if (!component || !environment)
    throw ApplicationFailure.nonRetryable(`steps.${s.id}.check needs component (or a component run) and environment`, 'PipelineInvalid');
  const on = (region: string) =>
    proxyActivities<Activities>({
      startToCloseTimeout: '5m',
      retry: { maximumAttempts: 3 },
      taskQueue: regionTaskQueue(region),
      summary: `${s.id}: checks of ${component}`,
    });
  const snapshot = await on(req.defaultRegion).loadDeploySnapshot({ component, environment });
  const regions = Array.isArray(c.regions) ? c.regions.map(String) : snapshot.regions;
  const out: Record<string, unknown> = {};
  const bad: string[] = [];
  await Promise.all(
    regions.map(async (region) => {
      const version = text(c.version ?? snapshot.previousVersions[region] ?? '');
      const results = await on(region).runChecks({ component, environment, version, checks: snapshot.checks });
      out[region] = Object.fromEntries(results.map((r) => [r.name, { status: r.status, output: r.output }]));
      for (const r of results) if (r.status !== 0) bad.push(`${r.name} on ${region}: ${r.output}`);
    }),
  );
  if (bad.length) throw ApplicationFailure.nonRetryable(`checks not OK: ${bad.join('; ')}`, 'ChecksFailed');
  return out;
}

/**
 * A `puppet:` step: a masterless `puppet apply` of the component's role with its Hiera data (as a deploy
 * runs it) on each region it runs in, or a dry run with `noop: true`; a resource that failed fails the step.
 */
export async function puppetStep(req: PipelineRunRequest, s: StepDef, ctx: Contexts): Promise<Record<string, unknown>> {
  const c = evaluateValue(s.puppet, ctx) as Record<string, unknown>;
  const component = text(c.component ?? (req.component as { name?: string } | undefined)?.name);
  const environment = text(c.environment);
  if (!component || !environment)
    throw ApplicationFailure.nonRetryable(`steps.${s.id}.puppet needs component (or a component run) and environment`, 'PipelineInvalid');
  const on = (region: string) =>
    proxyActivities<Activities>({
      startToCloseTimeout: '15m',
      retry: { maximumAttempts: 2, nonRetryableErrorTypes: ['PuppetMissing', 'BadRole', 'UnknownComponent', 'NotPlaced'] },
      taskQueue: regionTaskQueue(region),
      summary: `${s.id}: puppet apply of ${component} in ${environment}${c.noop === true ? ' (noop)' : ''}`,
    });
  const snapshot = await on(req.defaultRegion).loadDeploySnapshot({ component, environment });
  if (!snapshot.puppetRole) throw ApplicationFailure.nonRetryable(`${component} has no puppet_role in the source of truth`, 'BadRole');
  const regions = Array.isArray(c.regions) ? c.regions.map(text) : snapshot.regions;
  const out: Record<string, unknown> = {};
  const bad: string[] = [];
  await Promise.all(
    regions.map(async (region) => {
      const version = text(c.version ?? snapshot.previousVersions[region]);
      const r = await on(region).puppetApply({ component, role: snapshot.puppetRole!, hiera: snapshot.hiera, version, environment, noop: c.noop === true });
      out[region] = r;
      if (r.failed > 0) bad.push(`${region}: ${r.failed} resource(s) failed`);
    }),
  );
  if (bad.length) throw ApplicationFailure.nonRetryable(`puppet apply of ${component}: ${bad.join('; ')}`, 'PuppetFailed');
  return out;
}

/**
 * A `release:` step: a release train of several components to an environment in dependency order, as
 * `stackwire release` (a child `releaseTrain`); a component that failed or was skipped fails the step.
 */
export async function releaseStep(req: PipelineRunRequest, s: StepDef, ctx: Contexts): Promise<Record<string, unknown>> {
  const r = evaluateValue(s.release, ctx) as Record<string, unknown>;
  const environment = text(r.environment);
  const versions = r.components && typeof r.components === 'object' && !Array.isArray(r.components) ? (r.components as Record<string, unknown>) : {};
  if (!environment || !Object.keys(versions).length)
    throw ApplicationFailure.nonRetryable(`steps.${s.id}.release needs environment and components (name → version)`, 'PipelineInvalid');
  const plan = await proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['UnknownComponent', 'NotPlaced'] },
    taskQueue: regionTaskQueue(req.defaultRegion),
    summary: `${s.id}: the release plan from the source of truth`,
  }).releasePlan({ environment, components: Object.keys(versions) });
  const releaseId = `release-${environment}-${req.runId.slice(-10)}-${s.id}`;
  const isProtected = (req.protectedEnvironments ?? []).includes(environment);
  const out = await executeChild(releaseTrain, {
    workflowId: releaseId,
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    args: [
      {
        releaseId,
        environment,
        versions: Object.fromEntries(Object.entries(versions).map(([k, v]) => [k, text(v)])),
        edges: plan.edges,
        firstRegion: plan.firstRegion,
        maxParallel: typeof r.max_parallel === 'number' ? r.max_parallel : 4,
        actor: req.actor,
        trigger: `pipeline:${req.definition.name}`,
        ...triggerIdOf(req),
        ...(r.health && typeof r.health === 'object' ? { health: r.health as DeployRequest['health'] } : {}),
        ...(isProtected ? { approval: { required: true as const, timeoutSeconds: PROTECTED_GATE_SECONDS, beforeFirstWave: true } } : {}),
      },
    ],
    staticSummary: `release of ${Object.keys(versions).length} components to ${environment} (pipeline ${req.definition.name}, step ${s.id})`,
  });
  const bad = Object.entries(out.outcome).filter(([, o]) => o.status !== 'succeeded');
  if (bad.length)
    throw ApplicationFailure.nonRetryable(
      `release ${releaseId}: ${bad.map(([c, o]) => `${c} ${o.status}${o.reason ? `: ${o.reason}` : ''}`).join('; ')}`,
      'ReleaseFailed',
    );
  return { release_id: out.releaseId, waves: out.waves, outcome: out.outcome };
}

/** A built-in kind that pipelines cannot run yet: a clear failure, not a silent success. */
export function notYet(kind: string, s: StepDef): never {
  throw ApplicationFailure.nonRetryable(
    `steps.${s.id}: the built-in "${kind}" is not available in pipelines yet; run an action that does it, or use \`stackwire ${kind === 'release' ? 'release' : 'deploy'}\``,
    'NotImplemented',
  );
}

/** Runs a child workflow with a summary for the Web UI; its failure's cause is the step's error. */
export async function child<T>(workflow: (...args: never[]) => Promise<T>, workflowId: string, arg: unknown, summary: string, region: string): Promise<T> {
  return executeChild(workflow as (a: unknown) => Promise<T>, { workflowId, args: [arg], taskQueue: regionTaskQueue(region), staticSummary: summary });
}
