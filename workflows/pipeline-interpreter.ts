/**
 * The pipeline interpreter: runs a validated definition (pinned in the run's input) as a DAG with the
 * most parallelism its `needs` allow, evaluating `if:` and `with:` expressions as steps become ready,
 * then `on_failure` steps when the pipeline failed. Its state (every step's status, outputs and
 * timings) answers the `pipelineState` query and is the run's result — or, for a failed run, the
 * failure's details. Deterministic: no I/O, no Node APIs.
 */
import { ApplicationFailure, condition, isCancellation, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { stepKind, type PipelineRunRequest, type PipelineRunState, type StepDef, type StepResult } from '../common/pipeline.js';
import { evaluateCondition, evaluateValue, type Contexts } from '../common/pipeline-expressions.js';
import { failureReason } from './action-steps.js';
import { pipelineDecideUpdate, pipelineStateQuery, type PipelineDecision } from './definitions.js';
import { forEachItems, type ForEachInput, type ForEachResult, type PipelineRunFn } from './pipeline-for-each.js';
import {
  awaitDecision,
  checkStep,
  child,
  deployStep,
  listOf,
  notYet,
  puppetStep,
  releaseStep,
  runActionStep,
  sleepStep,
  withDefaults,
} from './pipeline-steps.js';

export interface PipelineWorkflows {
  pipelineRun: PipelineRunFn;
  pipelineForEach: (input: ForEachInput) => Promise<ForEachResult>;
}

interface Waiting {
  approvers: string[];
  message?: string;
  deadline: string;
  decision?: PipelineDecision;
}

function withoutRerun(req: PipelineRunRequest): Omit<PipelineRunRequest, 'reuse' | 'rerunOf'> {
  const { reuse: _reuse, rerunOf: _rerunOf, ...rest } = req;
  return rest;
}

export async function interpret(req: PipelineRunRequest, wf: PipelineWorkflows): Promise<PipelineRunState> {
  const def = req.definition;
  const all = [...def.steps, ...(def.on_failure ?? [])];
  const results = new Map<string, StepResult>(all.map((s) => [s.id, { id: s.id, status: 'pending', outputs: {} }]));
  const defs = new Map(all.map((s) => [s.id, s]));
  /** Steps skipped because something they need failed: their dependents see a failure too. */
  const blocked = new Set<string>();
  const waiting = new Map<string, Waiting>();
  let status: PipelineRunState['status'] = 'running';
  let outputs: Record<string, unknown> = {};
  let error: string | undefined;
  let cancelledBy: unknown;

  const state = (): PipelineRunState => ({
    runId: req.runId,
    pipeline: def.name,
    status,
    steps: [...results.values()].map((r) => ({ ...r })),
    outputs,
    ...(error !== undefined ? { error } : {}),
    waiting: [...waiting].map(([step, w]) => ({ step, approvers: w.approvers, deadline: w.deadline, ...(w.message ? { message: w.message } : {}) })),
  });
  setHandler(pipelineStateQuery, state);
  setHandler(
    pipelineDecideUpdate,
    (d: PipelineDecision) => {
      waiting.get(d.step)!.decision = d;
      return { step: d.step, decidedBy: d.actor, approved: d.approve };
    },
    {
      validator: (d: PipelineDecision) => {
        const w = waiting.get(d.step);
        if (!w || w.decision) throw new Error(`step ${d.step} is not waiting for a decision (waiting: ${[...waiting.keys()].join(', ') || 'none'})`);
        if (d.actor === req.actor) throw new Error(`${d.actor} started this run and cannot decide its own approval step (four eyes)`);
        if (w.approvers.length && !w.approvers.includes(d.actor))
          throw new Error(`${d.actor} is not an approver of step ${d.step} (approvers: ${w.approvers.join(', ')})`);
      },
    },
  );

  const details = () => {
    const by = (st: string) => [...results.values()].filter((r) => r.status === st).map((r) => r.id);
    const finished = [...results.values()].filter((r) => !['pending', 'running', 'waiting'].includes(r.status)).length;
    setCurrentDetails(
      `${def.name}: ${finished}/${results.size} steps finished` +
        (by('running').length ? `; running ${by('running').join(', ')}` : '') +
        (by('waiting').length ? `; waiting for approval: ${by('waiting').join(', ')}` : '') +
        (by('failed').length ? `; failed: ${by('failed').join(', ')}` : ''),
    );
  };

  const base: Contexts = {
    inputs: withDefaults(def, req.inputs),
    trigger: req.trigger,
    component: req.component ?? {},
    secrets: req.secrets ?? {},
    run: { id: req.runId, actor: req.actor },
  };
  const env = evaluateValue(def.env ?? {}, base) as Record<string, unknown>;
  const contexts = (): Contexts => ({
    ...base,
    env,
    steps: Object.fromEntries([...results].map(([id, r]) => [id, { outputs: r.outputs, conclusion: r.status, outcome: r.status }])),
  });
  const hardFailure = (id: string) => {
    const r = results.get(id)!;
    return blocked.has(id) || r.status === 'cancelled' || (r.status === 'failed' && defs.get(id)!.continue_on_error !== true);
  };

  const execute = async (s: StepDef, r: StepResult): Promise<Record<string, unknown>> => {
    const ctx = contexts();
    const kind = stepKind(s);
    if (s.for_each !== undefined) {
      const items = forEachItems(s, ctx);
      // Known now: the API adds the counts so far from the fan-out's own query while it runs.
      r.items = { total: items.length, succeeded: 0, failed: 0 };
      const out = await child<ForEachResult>(
        wf.pipelineForEach,
        `${req.runId}.${s.id}`,
        {
          req: withoutRerun(req),
          step: s,
          ctx,
          items,
          offset: 0,
          total: items.length,
          concurrency: s.concurrency ?? 10,
          succeeded: 0,
          failed: 0,
          failures: [],
          generation: 0,
        } satisfies ForEachInput,
        `${s.id}: for each of ${items.length} items, ${s.concurrency ?? 10} at a time`,
        req.defaultRegion,
      ).catch((err: unknown) => {
        r.items = undefined; // ended without its counts (cancelled): none is better than zeros
        throw err;
      });
      r.items = { total: out.total, succeeded: out.succeeded, failed: out.failed };
      if (out.failed > 0) {
        const first = out.failures[0];
        throw ApplicationFailure.nonRetryable(
          `${out.failed} of ${out.total} items failed${first ? `; first: item ${first.index} (${JSON.stringify(first.item)}): ${first.error}` : ''}`,
          'ItemsFailed',
        );
      }
      return { total: out.total, succeeded: out.succeeded };
    }
    switch (kind) {
      case 'action': {
        const parameters = evaluateValue(s.with ?? {}, ctx) as Record<string, unknown>;
        const spec = req.actions[s.action!];
        const regions =
          s.regions !== undefined
            ? listOf(s.regions, ctx, `steps.${s.id}.regions`).map(String)
            : [s.region !== undefined ? String(evaluateValue(s.region, ctx)) : (spec?.region ?? req.defaultRegion)];
        r.executions = regions.map((g) => (regions.length > 1 ? `${req.runId}.${s.id}.${g}` : `${req.runId}.${s.id}`));
        if (regions.length === 1) return runActionStep(req, s, parameters, regions[0], r.executions[0]);
        const each = await Promise.all(regions.map((g, i) => runActionStep(req, s, parameters, g, r.executions![i])));
        return Object.fromEntries(regions.map((g, i) => [g, each[i]]));
      }
      case 'approval': {
        const w: Waiting = {
          approvers: s.approval!.approvers ?? [],
          deadline: '',
          ...(s.approval!.message ? { message: String(evaluateValue(s.approval!.message, ctx)) } : {}),
        };
        r.status = 'waiting';
        details();
        const d = await awaitDecision(s, async (ms) => {
          w.deadline = new Date(Date.now() + ms).toISOString();
          waiting.set(s.id, w);
          try {
            return (await condition(() => w.decision !== undefined, ms)) ? w.decision : undefined;
          } finally {
            waiting.delete(s.id);
          }
        });
        r.decidedBy = d.decidedBy;
        return d.outputs;
      }
      case 'sleep':
        return sleepStep(s);
      case 'deploy':
        return deployStep(req, s, ctx);
      case 'check':
        return checkStep(req, s, ctx);
      case 'puppet':
        return puppetStep(req, s, ctx);
      case 'release':
        return releaseStep(req, s, ctx);
      case 'pipeline': {
        const sub = req.pipelines[s.pipeline!];
        if (!sub) throw ApplicationFailure.nonRetryable(`sub-pipeline ${s.pipeline} was not pinned with the run`, 'PipelineInvalid');
        if ((req.depth ?? 0) >= 10) throw ApplicationFailure.nonRetryable(`sub-pipelines nest more than 10 deep at ${s.id}: a cycle?`, 'PipelineInvalid');
        const id = `${req.runId}.${s.id}`;
        const inputs = withDefaults(sub, evaluateValue(s.with ?? {}, ctx) as Record<string, unknown>);
        const out = await child<PipelineRunState>(
          wf.pipelineRun,
          id,
          { ...withoutRerun(req), runId: id, definition: sub, inputs, depth: (req.depth ?? 0) + 1 } satisfies PipelineRunRequest,
          `${s.id}: pipeline ${sub.name}`,
          req.defaultRegion,
        );
        return out.outputs;
      }
      default:
        return notYet(kind ?? 'unknown', s);
    }
  };

  const decideAndRun = async (s: StepDef): Promise<void> => {
    const r = results.get(s.id)!;
    const reused = req.reuse?.[s.id];
    if (reused && (reused.status === 'succeeded' || reused.status === 'reused')) {
      results.set(s.id, { ...reused, id: s.id, status: 'reused' });
      return;
    }
    const failedNeeds = (s.needs ?? []).filter(hardFailure);
    const st = { success: failedNeeds.length === 0, failure: failedNeeds.length > 0, cancelled: cancelledBy !== undefined };
    let run: boolean;
    try {
      run = cancelledBy === undefined && (s.if !== undefined ? evaluateCondition(s.if, contexts(), st) : st.success);
    } catch (err) {
      r.status = 'failed';
      r.error = `if: ${failureReason(err)}`;
      return;
    }
    if (!run) {
      r.status = 'skipped';
      if (failedNeeds.length) {
        blocked.add(s.id);
        r.error = `not run: ${failedNeeds.join(', ')} failed`;
      } else r.error = cancelledBy !== undefined ? 'not run: the run was cancelled' : `not run: if: ${s.if} is false`;
      return;
    }
    r.status = 'running';
    r.startedAt = new Date().toISOString();
    details();
    try {
      r.outputs = await execute(s, r);
      r.status = 'succeeded';
    } catch (err) {
      if (isCancellation(err)) {
        r.status = 'cancelled';
        cancelledBy ??= err;
      } else r.status = 'failed';
      r.error = failureReason(err);
    } finally {
      r.finishedAt = new Date().toISOString();
      details();
    }
  };

  const runGraph = async (steps: StepDef[]): Promise<void> => {
    const own = new Map(steps.map((s) => [s.id, s]));
    const started = new Map<string, Promise<void>>();
    const start = (s: StepDef): Promise<void> => {
      let p = started.get(s.id);
      if (!p) {
        p = (async () => {
          await Promise.all((s.needs ?? []).filter((n) => own.has(n)).map((n) => start(own.get(n)!)));
          await decideAndRun(s);
        })();
        started.set(s.id, p);
      }
      return p;
    };
    await Promise.all(steps.map(start));
  };

  details();
  await runGraph(def.steps);
  const failedSteps = def.steps.filter((s) => results.get(s.id)!.status === 'failed' && s.continue_on_error !== true).map((s) => s.id);
  if (cancelledBy === undefined && failedSteps.length === 0) {
    try {
      outputs = evaluateValue(def.outputs ?? {}, contexts()) as Record<string, unknown>;
    } catch (err) {
      error = `outputs: ${failureReason(err)}`;
    }
  } else if (cancelledBy === undefined) {
    error = failedSteps.map((id) => `${id}: ${results.get(id)!.error ?? 'failed'}`).join('; ');
  }
  if (cancelledBy !== undefined) {
    status = 'cancelled';
    details();
    throw cancelledBy as Error;
  }
  if (error !== undefined) {
    if (def.on_failure?.length) await runGraph(def.on_failure);
    status = 'failed';
    details();
    throw ApplicationFailure.create({ nonRetryable: true, type: 'PipelineFailed', message: `pipeline ${def.name} failed: ${error}`, details: [state()] });
  }
  for (const s of def.on_failure ?? []) Object.assign(results.get(s.id)!, { status: 'skipped', error: 'not run: the pipeline succeeded' });
  status = 'succeeded';
  details();
  return state();
}
