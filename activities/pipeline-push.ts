/**
 * A push's pipelines: a component's `.stackwire/pipelines/*.yml` at the pushed commit, validated against
 * the catalog, those whose `on: push` filters match the pushed branch or tag, pinned as run requests
 * (workflows/github-push.ts starts them). Reading, validating and pinning are what the API does for a
 * run started by hand; here a regional worker does them, because a webhook must answer at once.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PipelineDef, PipelineRunRequest } from '../common/pipeline.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction } from '../db/actions.js';
import type { Pool } from '../db/pool.js';
import { getComponent, protectedEnvironments } from '../db/sot.js';
import type { Config } from '../lib/config.js';
import { withGitScratch } from '../lib/git.js';
import { pipelineFileRefs, validatePipelineFiles } from '../lib/pipeline-files.js';
import { checkPipelineInputs } from '../lib/pipeline-validate.js';
import { readAt } from './pipeline-source.js';

export interface PushRunsInput {
  delivery: string;
  component: string;
  repository: string;
  commit: string;
  ref: string;
  trigger: Record<string, unknown>;
  actor: string;
  defaultRegion: string;
  regions: string[];
}

export interface PushRunsResult {
  runs: PipelineRunRequest[];
  skipped: { pipeline: string; reason: string }[];
  problems: string[];
}

/** A GitHub Actions-style filter glob: `*` within a path segment, `**` across them. */
function globMatches(glob: string, value: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*|\*|\?/g, (m) => (m === '**' ? '.*' : m === '*' ? '[^/]*' : '[^/]'));
  return new RegExp(`^${re}$`).test(value);
}

/** Whether a pipeline answers this push: `on: push`, its branches (or tags) filter matching. */
export function answersPush(def: PipelineDef, ref: string): boolean | string {
  const push = def.on?.push as { branches?: string[]; tags?: string[] } | null | undefined;
  if (def.on === undefined || !('push' in def.on)) return 'it has no `on: push`';
  const branch = /^refs\/heads\/(.+)$/.exec(ref)?.[1];
  const tag = /^refs\/tags\/(.+)$/.exec(ref)?.[1];
  const branches = push?.branches;
  const tags = push?.tags;
  if (branch !== undefined) {
    if (branches === undefined) return tags === undefined || `it runs on tags ${tags.join(', ')} only`;
    return branches.some((g) => globMatches(g, branch)) || `branch ${branch} is not in its branches (${branches.join(', ')})`;
  }
  if (tag !== undefined) {
    if (tags === undefined) return branches === undefined || `it runs on branches ${branches.join(', ')} only`;
    return tags.some((g) => globMatches(g, tag)) || `tag ${tag} is not in its tags (${tags.join(', ')})`;
  }
  return `${ref} is neither a branch nor a tag`;
}

export function createPipelinePushActivities(deps: { pool: Pool; git: Config['git']; scriptEnv: Record<string, string> }) {
  return {
    async preparePushRuns(input: PushRunsInput): Promise<PushRunsResult> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        const source = await withGitScratch('stackwire-push-', { policy: deps.git, baseEnv: deps.scriptEnv, signal: ctx.cancellationSignal }, (g, repo) =>
          readAt(g, repo, { repository: input.repository, ref: input.commit }),
        ).catch((err: unknown) => {
          if (err instanceof ApplicationFailure && err.type === 'NoPipelines') return undefined;
          throw err;
        });
        if (!source) return { runs: [], skipped: [], problems: [] };
        const named = new Set(source.files.flatMap((f) => pipelineFileRefs(f.content).actions));
        const found = new Map<string, ActionSpec>();
        for (const name of named) {
          const a = await getCurrentAction(deps.pool, name);
          if (a) found.set(name, a);
        }
        const v = validatePipelineFiles(source.files, { action: (name) => found.get(name) });
        const problems = v.problems.map((p) => `${input.component}: ${p.file}:${p.line}:${p.column}: ${p.message}`);
        const c = await getComponent(deps.pool, input.component);
        const protectedEnvs = await protectedEnvironments(deps.pool);
        const runs: PipelineRunRequest[] = [];
        const skipped: PushRunsResult['skipped'] = [];
        const all = Object.fromEntries(v.pipelines.map((p) => [p.name, p.definition]));
        for (const p of v.pipelines) {
          const answers = answersPush(p.definition, input.ref);
          if (answers !== true) {
            skipped.push({ pipeline: p.name, reason: answers === false ? 'no match' : answers });
            continue;
          }
          const inputs = checkPipelineInputs(p.definition, {});
          if (inputs.problems.length) {
            skipped.push({ pipeline: p.name, reason: `a push gives no inputs: ${inputs.problems.join('; ')}` });
            continue;
          }
          const actions: Record<string, ActionSpec> = {};
          for (const d of Object.values(all))
            for (const s of [...d.steps, ...(d.on_failure ?? [])]) if (s.action && found.has(s.action)) actions[s.action] = found.get(s.action)!;
          runs.push({
            kind: 'definition',
            runId: `push.${input.delivery}.${input.component}.${p.name}`,
            definition: p.definition,
            pipelines: Object.fromEntries(Object.entries(all).filter(([n]) => n !== p.name)),
            actions,
            source: { kind: 'component', path: p.file, component: input.component, repository: input.repository, ref: input.ref, commit: source.commit },
            inputs: inputs.values,
            trigger: input.trigger,
            ...(c
              ? {
                  component: {
                    name: c.name,
                    repository: c.repository,
                    platform: c.platform,
                    owner: c.owner,
                    puppet_role: c.puppetRole,
                    deploy_params: c.deployParams,
                    depends_on: c.dependsOn,
                    placements: c.placements,
                  },
                }
              : {}),
            actor: input.actor,
            defaultRegion: input.defaultRegion,
            regions: input.regions,
            protectedEnvironments: protectedEnvs,
          });
        }
        return { runs, skipped, problems };
      } finally {
        clearInterval(beat);
      }
    },
  };
}
