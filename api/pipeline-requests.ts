/**
 * What a pipeline run starts from: the files (given, a component's repository at a ref, or a pack's),
 * validated together against the catalog, the inputs checked, the caller's authority over every action
 * and deploy checked, secrets sealed — pinned into a `pipelineRun` request. Shared by runs started now
 * (api/pipelines.ts) and by schedules (api/schedules.ts).
 */
import crypto from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { PipelineRunStartRequest } from '../common/api-types.js';
import { SearchAttributes, regionTaskQueue } from '../common/constants.js';
import type { PipelineDef, PipelineRunRequest } from '../common/pipeline.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction, listActions } from '../db/actions.js';
import { currentPackManifest, loadBlobs } from '../db/packs.js';
import type { Pool } from '../db/pool.js';
import { getComponent, protectedEnvironments } from '../db/sot.js';
import { pipelineFileRefs, validatePipelineFiles } from '../lib/pipeline-files.js';
import { checkPipelineInputs, inputsFromPairs } from '../lib/pipeline-validate.js';
import { seal } from '../lib/secrets.js';
import { pipelineRun, readPipelineSource } from '../workflows/index.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { checkEnvironment, checkPackScope, roleAtLeast, type Principal } from './security/permissions.js';

export const newRunId = (name: string) => `pipeline.${name}.${crypto.randomBytes(5).toString('hex')}`;

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

export function checkScopes(p: Principal, actions: Record<string, ActionSpec>): void {
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

export async function startRun(client: Client, req: PipelineRunRequest, trigger: string, triggerId?: string): Promise<void> {
  await client.workflow.start(pipelineRun, {
    taskQueue: regionTaskQueue(req.defaultRegion),
    workflowId: req.runId,
    // A trigger's run: its id derives from the trigger, and a repeated dispatch must not start it again.
    ...(triggerId ? { workflowIdReusePolicy: 'REJECT_DUPLICATE' as const } : {}),
    args: [req],
    staticSummary: `pipeline ${req.definition.name} (${req.definition.steps.length} steps) by ${req.actor}`,
    typedSearchAttributes: [
      { key: SearchAttributes.Pipeline, value: req.definition.name },
      { key: SearchAttributes.Actor, value: req.actor },
      { key: SearchAttributes.Trigger, value: trigger },
      { key: SearchAttributes.Region, value: req.defaultRegion },
      ...(triggerId ? [{ key: SearchAttributes.TriggerId, value: triggerId }] : []),
    ],
  });
}

export function pipelineRequests({ client, pool, config }: Pick<RouterDeps, 'client' | 'pool' | 'config'>) {
  const region = (r: string | undefined) => {
    const chosen = r ?? config.regions[0];
    if (!config.regions.includes(chosen))
      throw new ApiError(400, 'unknown_region', `region ${JSON.stringify(chosen)} is not one of ${config.regions.join(', ')}.`);
    return chosen;
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

  /** Everything a run is checked for before it starts, and the request it starts with (runId: a schedule's runs take their workflow id). */
  const build = async (p: Principal, body: PipelineRunStartRequest, fixedRunId?: string) => {
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
    const runId = fixedRunId ?? newRunId(prepared.definition.name);
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
    return { run, files, source, inputs, prepared };
  };
  return { region, build };
}
