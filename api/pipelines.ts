/**
 * Pipeline runs:
 *
 *   POST /api/v1/pipelines/runs              files (the pipeline and its sub-pipelines) + inputs → 202, or 400 with every problem
 *   GET  /api/v1/pipelines/runs              recent runs (Temporal visibility: WorkflowType, Pipeline)
 *   GET  /api/v1/pipelines/runs/:id          steps with status, outputs and timings (the pipelineState query)
 *   POST /api/v1/pipelines/runs/:id/cancel   cancel
 *   POST /api/v1/pipelines/runs/:id/decide   approve or reject a waiting approval step (an update; four eyes)
 *   POST /api/v1/pipelines/runs/:id/rerun    a new run from a step, reusing the recorded outputs of the others
 *
 * A run is validated completely before it starts and pinned: the definitions and the actions they name
 * (as the catalog has them now) are the workflow's input.
 */
import crypto from 'node:crypto';
import { Router } from 'express';
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type {
  PipelineDecideRequest,
  PipelineRunListResponse,
  PipelineRunStartRequest,
  PipelineRunStartResponse,
  PipelineRerunRequest,
} from '../common/api-types.js';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import type { PipelineDef, PipelineRunRequest, PipelineRunState, StepDef, StepResult } from '../common/pipeline.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction, listActions } from '../db/actions.js';
import type { Pool } from '../db/pool.js';
import { currentPackManifest, loadBlobs } from '../db/packs.js';
import { getComponent, protectedEnvironments } from '../db/sot.js';
import { pipelineFileRefs, validatePipelineFiles } from '../lib/pipeline-files.js';
import { checkPipelineInputs, inputsFromPairs } from '../lib/pipeline-validate.js';
import { seal } from '../lib/secrets.js';
import { pipelineDecideUpdate, pipelineStateQuery } from '../workflows/definitions.js';
import { pipelineRun, readPipelineSource } from '../workflows/index.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { principal, route } from './http.js';
import { checkEnvironment, checkPackScope, roleAtLeast, type Principal } from './security/permissions.js';

const newRunId = (name: string) => `pipeline.${name}.${crypto.randomBytes(5).toString('hex')}`;

/** Validates posted files together and pins what the chosen pipeline needs; a 400 with every problem otherwise. */
async function prepare(pool: Pool, body: PipelineRunStartRequest & { files: { path: string; content: string }[] }) {
  const named = new Set(body.files.flatMap((f) => pipelineFileRefs(f.content).actions));
  const found = new Map<string, ActionSpec>();
  for (const name of named) {
    const a = await getCurrentAction(pool, name);
    if (a) found.set(name, a);
  }
  const allNames = found.size < named.size ? (await listActions(pool)).map((a) => a.name) : [];
  const r = validatePipelineFiles(body.files, { action: (name) => found.get(name), actionNames: () => allNames });
  if (r.problems.length) {
    throw new ApiError(
      400,
      'invalid_pipeline',
      `the pipeline files have ${r.problems.length} problem(s); nothing was started:\n${r.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`,
      { problems: r.problems },
    );
  }
  const wanted = body.pipeline ?? r.pipelines[0]?.name;
  const main = r.pipelines.find((p) => p.name === wanted);
  if (!main)
    throw new ApiError(
      400,
      'unknown_pipeline',
      `no pipeline named ${JSON.stringify(wanted)} among the files; they define ${r.pipelines.map((p) => p.name).join(', ')}.`,
    );
  const pipelines = Object.fromEntries(r.pipelines.filter((p) => p !== main).map((p) => [p.name, p.definition]));
  const actions: Record<string, ActionSpec> = {};
  for (const d of [main.definition, ...Object.values(pipelines)])
    for (const s of [...d.steps, ...(d.on_failure ?? [])]) if (s.action) actions[s.action] = found.get(s.action)!;
  return { definition: main.definition, file: main.file, pipelines, actions };
}

function checkScopes(p: Principal, actions: Record<string, ActionSpec>): void {
  for (const a of Object.values(actions)) checkPackScope(p, a.pack, 'executions.run');
}

/** A pack's pipelines (`pipelines/*.yml` or `.stackwire/pipelines/*.yml`) as its current version holds them. */
async function packPipelines(pool: Pool, pack: string): Promise<{ path: string; content: string }[]> {
  const manifest = await currentPackManifest(pool, pack);
  if (!manifest) throw new ApiError(404, 'unknown_pack', `no pack ${JSON.stringify(pack)}; \`stackwire pack list\` shows them.`);
  const entries = manifest.filter((e) => /^(\.stackwire\/)?pipelines\/[^/]+\.ya?ml$/.test(e.path)).sort((a, b) => a.path.localeCompare(b.path));
  if (!entries.length) throw new ApiError(404, 'no_pipelines', `pack ${pack} holds no pipeline files (pipelines/*.yml).`);
  const blobs = await loadBlobs(
    pool,
    entries.map((e) => e.sha256),
  );
  return entries.map((e) => ({ path: `${pack}/${e.path}`, content: blobs.get(e.sha256)!.toString('utf8') }));
}

/**
 * The starter answers for the deploys a pipeline will make: the environment scope of the key, and the
 * deployer role for protected environments. An environment given by an expression could be any: it
 * needs a key without environment scope and the deployer role.
 */
function checkDeploys(p: Principal, defs: PipelineDef[], protectedEnvs: string[]): void {
  for (const d of defs)
    for (const s of [...d.steps, ...(d.on_failure ?? [])]) {
      const env = s.deploy?.environment ?? s.release?.environment;
      if (!s.deploy && !s.release) continue;
      if (typeof env === 'string' && !env.includes('${{')) checkEnvironment(p, env, protectedEnvs.includes(env), 'deployments.deploy');
      else if (p.scopes.environments || !roleAtLeast(p.role, 'deployer'))
        throw new ApiError(
          403,
          'forbidden',
          `${d.name}: step ${s.id} deploys to an environment chosen at run time (or none), which could be a protected one: that needs the deployer role and a key without environment scope; the key ${p.keyId} of ${p.actor} has ${p.role}.`,
        );
    }
}

async function startRun(client: Client, req: PipelineRunRequest, trigger: string): Promise<void> {
  await client.workflow.start(pipelineRun, {
    taskQueue: regionTaskQueue(req.defaultRegion),
    workflowId: req.runId,
    args: [req],
    staticSummary: `pipeline ${req.definition.name} (${req.definition.steps.length} steps) by ${req.actor}`,
    typedSearchAttributes: [
      { key: SearchAttributes.Pipeline, value: req.definition.name },
      { key: SearchAttributes.Actor, value: req.actor },
      { key: SearchAttributes.Trigger, value: trigger },
      { key: SearchAttributes.Region, value: req.defaultRegion },
    ],
  });
}

/** Steps a re-run from `from` runs again: it and everything that depends on it, transitively. */
export function downstreamOf(def: PipelineDef, from: string): Set<string> {
  const out = new Set([from]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of def.steps) if (!out.has(s.id) && (s.needs ?? []).some((n) => out.has(n)) && out.add(s.id)) grew = true;
  }
  return out;
}

export function pipelinesRouter({ client, pool, config, http }: RouterDeps): Router {
  const router = Router();
  const region = (r: string | undefined) => {
    const chosen = r ?? config.regions[0];
    if (!config.regions.includes(chosen))
      throw new ApiError(400, 'unknown_region', `region ${JSON.stringify(chosen)} is not one of ${config.regions.join(', ')}.`);
    return chosen;
  };
  const handle = async (id: string) => {
    const h = client.workflow.getHandle(id);
    try {
      const d = await h.describe();
      if (d.type !== 'pipelineRun') throw new ApiError(404, 'not_a_pipeline_run', `${id} is a ${d.type}, not a pipeline run.`);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new ApiError(404, 'run_not_found', `no pipeline run ${JSON.stringify(id)}; GET /api/v1/pipelines/runs lists them.`);
      throw err;
    }
    return h;
  };

  /** A component's pipeline files at a ref, read by a regional worker; its source-of-truth fields for `component`. */
  const componentSource = async (name: string, ref: string | undefined, inRegion: string | undefined) => {
    const c = await getComponent(pool, name);
    if (!c)
      throw new ApiError(404, 'unknown_component', `no component ${JSON.stringify(name)} in the source of truth; \`stackwire component list\` shows them.`);
    try {
      const r = await client.workflow.execute(readPipelineSource, {
        taskQueue: regionTaskQueue(region(inRegion)),
        workflowId: `pipeline-source.${name}.${crypto.randomBytes(4).toString('hex')}`,
        args: [{ repository: c.repository, ...(ref ? { ref } : {}) }],
        workflowExecutionTimeout: '10m',
      });
      const fields = {
        name: c.name,
        repository: c.repository,
        platform: c.platform,
        owner: c.owner,
        puppet_role: c.puppetRole,
        deploy_params: c.deployParams,
        depends_on: c.dependsOn,
        placements: c.placements,
      };
      return { ...r, repository: c.repository, fields };
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        // The reason is the innermost failure (workflow ← activity ← the activity's own error).
        let e: Error = err;
        while (e.cause instanceof Error) e = e.cause;
        throw new ApiError(422, 'pipeline_source', `${name}: ${e.message}`);
      }
      throw err;
    }
  };

  /** The run's secrets sealed with the stack's key: ciphertext wherever the run is kept. */
  const sealAll = (secrets: Record<string, string>) => {
    const key = config.secretKey;
    if (!key)
      throw new ApiError(503, 'no_secret_key', 'this API has no STACKWIRE_SECRET_KEY to seal the secrets with; set it (npm start does) and restart the API.');
    return Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, seal(v, key)]));
  };

  route(router, 'POST /api/v1/pipelines/runs', http, async (req, res) => {
    const p = principal(req);
    const body = req.body as PipelineRunStartRequest;
    const given = [body.files, body.component, body.pack].filter((x) => x !== undefined).length;
    if (given !== 1)
      throw new ApiError(
        400,
        'invalid_request',
        'give exactly one of: the pipeline files (files), a component whose repository holds them (component, ref), or a pack (pack).',
      );
    if (body.pack !== undefined) checkPackScope(p, body.pack, 'executions.run');
    const source = body.component !== undefined ? await componentSource(body.component, body.ref, body.region) : undefined;
    const files = source?.files ?? (body.pack !== undefined ? await packPipelines(pool, body.pack) : body.files!);
    const prepared = await prepare(pool, { ...body, files });
    checkScopes(p, prepared.actions);
    const protectedEnvs = await protectedEnvironments(pool);
    checkDeploys(p, [prepared.definition, ...Object.values(prepared.pipelines)], protectedEnvs);
    const fromPairs = body.inputPairs ? inputsFromPairs(prepared.definition, body.inputPairs) : undefined;
    const inputs = fromPairs?.problems.length ? fromPairs : checkPipelineInputs(prepared.definition, { ...(fromPairs?.values ?? {}), ...(body.inputs ?? {}) });
    if (inputs.problems.length)
      throw new ApiError(400, 'invalid_inputs', `pipeline ${prepared.definition.name}: ${inputs.problems.join('; ')}.`, { problems: inputs.problems });
    const runId = newRunId(prepared.definition.name);
    const run: PipelineRunRequest = {
      kind: 'definition',
      runId,
      definition: prepared.definition,
      pipelines: prepared.pipelines,
      actions: prepared.actions,
      source: source
        ? {
            kind: 'component',
            path: prepared.file,
            component: body.component!,
            repository: source.repository,
            commit: source.commit,
            ...(body.ref ? { ref: body.ref } : {}),
          }
        : body.pack !== undefined
          ? { kind: 'pack', pack: body.pack, path: prepared.file }
          : { kind: 'file', path: prepared.file },
      ...(source ? { component: source.fields } : {}),
      protectedEnvironments: protectedEnvs,
      ...(body.secrets ? { secrets: sealAll(body.secrets) } : {}),
      inputs: inputs.values,
      trigger: { kind: body.trigger ?? 'api', actor: p.actor },
      actor: p.actor,
      defaultRegion: region(body.region),
      regions: config.regions,
    };
    req.audit = {
      target: runId,
      parameters: {
        pipeline: prepared.definition.name,
        files: files.map((f) => f.path),
        inputs: Object.keys(inputs.values),
        ...(body.secrets ? { secrets: Object.keys(body.secrets) } : {}),
        ...(source ? { component: body.component, commit: source.commit } : {}),
      },
    };
    await startRun(client, run, body.trigger ?? 'api');
    res
      .status(202)
      .json({ id: runId, pipeline: prepared.definition.name, steps: prepared.definition.steps.map((s) => s.id) } satisfies PipelineRunStartResponse);
  });

  route(router, 'GET /api/v1/pipelines/runs', http, async (req, res) => {
    const { pipeline, limit } = req.query as { pipeline?: string; limit?: string };
    const max = Math.min(Number(limit ?? 50), 500);
    const query = `WorkflowType = 'pipelineRun'${pipeline ? ` AND Pipeline = '${pipeline.replace(/'/g, '')}'` : ''}`;
    const runs: PipelineRunListResponse['runs'] = [];
    for await (const w of client.workflow.list({ query })) {
      // Sub-pipelines and for_each fan-outs (<run>.<step>) are part of their run; runs a push started are listed.
      if (w.parentExecution && w.workflowId.startsWith(`${w.parentExecution.workflowId}.`)) continue;
      runs.push({
        id: w.workflowId,
        pipeline: w.typedSearchAttributes.get(SearchAttributes.Pipeline) ?? '',
        actor: w.typedSearchAttributes.get(SearchAttributes.Actor) ?? '',
        status: w.status.name.toLowerCase(),
        startedAt: w.startTime.toISOString(),
        closedAt: w.closeTime?.toISOString() ?? null,
      });
      if (runs.length >= max) break;
    }
    res.json({ runs } satisfies PipelineRunListResponse);
  });

  route(router, 'GET /api/v1/pipelines/runs/:id', http, async (req, res) => {
    const h = await handle(req.params.id);
    const d = await h.describe();
    const state = await h.query(pipelineStateQuery);
    res.json({ ...state, workflowStatus: d.status.name.toLowerCase(), startedAt: d.startTime.toISOString(), closedAt: d.closeTime?.toISOString() ?? null });
  });

  route(router, 'POST /api/v1/pipelines/runs/:id/cancel', http, async (req, res) => {
    const h = await handle(req.params.id);
    req.audit = { target: req.params.id, parameters: {} };
    await h.cancel();
    res.status(202).json({ id: req.params.id, cancelRequested: true });
  });

  route(router, 'POST /api/v1/pipelines/runs/:id/decide', http, async (req, res) => {
    const p = principal(req);
    const body = req.body as PipelineDecideRequest;
    const h = await handle(req.params.id);
    req.audit = { target: `${req.params.id}#${body.step}`, parameters: { approve: body.approve, ...(body.reason ? { reason: body.reason } : {}) } };
    try {
      const r = await h.executeUpdate(pipelineDecideUpdate, {
        args: [{ step: body.step, actor: p.actor, approve: body.approve, ...(body.reason ? { reason: body.reason } : {}) }],
      });
      res.json(r);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ApiError(409, 'decision_refused', err.cause?.message ?? err.message);
      throw err;
    }
  });

  route(router, 'POST /api/v1/pipelines/runs/:id/rerun', http, async (req, res) => {
    const p = principal(req);
    const { from } = req.body as PipelineRerunRequest;
    const h = await handle(req.params.id);
    const history = await h.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    // The run's input as recorded: the pinned definitions and actions (decrypted with the client's codec).
    const earlier = started?.input?.payloads
      ? await decodeFromPayloadsAtIndex<PipelineRunRequest>(client.options.loadedDataConverter, 0, started.input.payloads)
      : undefined;
    if (!earlier || earlier.kind !== 'definition')
      throw new ApiError(409, 'not_rerunnable', `${req.params.id} is not a pipeline file's run; it cannot be re-run from a step.`);
    if (!earlier.definition.steps.some((s: StepDef) => s.id === from))
      throw new ApiError(
        400,
        'unknown_step',
        `${earlier.definition.name} has no step ${JSON.stringify(from)}; its steps: ${earlier.definition.steps.map((s) => s.id).join(', ')}.`,
      );
    checkScopes(p, earlier.actions);
    const state: PipelineRunState = await h.query(pipelineStateQuery);
    const again = downstreamOf(earlier.definition, from);
    const reuse: Record<string, StepResult> = {};
    for (const s of state.steps) if (!again.has(s.id) && (s.status === 'succeeded' || s.status === 'reused')) reuse[s.id] = s;
    const runId = newRunId(earlier.definition.name);
    req.audit = { target: runId, parameters: { rerunOf: req.params.id, from, reused: Object.keys(reuse) } };
    await startRun(client, { ...earlier, runId, actor: p.actor, reuse, rerunOf: req.params.id, trigger: { kind: 'rerun', of: req.params.id, from } }, 'rerun');
    res.status(202).json({
      id: runId,
      pipeline: earlier.definition.name,
      steps: earlier.definition.steps.map((s) => s.id),
      rerunOf: req.params.id,
      reused: Object.keys(reuse),
    });
  });
  return router;
}
