/** A pipeline run's workflow input as the API pins it, built straight from YAML and the catalog (for runs started through the Temporal client). */
import crypto from 'node:crypto';
import type pg from 'pg';
import YAML from 'yaml';
import type { PipelineDef, PipelineRunRequest } from '../common/pipeline.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction } from '../db/actions.js';

/** The definition (and its sub-pipelines), the catalog's current actions it names, alice as the actor, us-east and eu-west unless `o` says otherwise. */
export async function pipelineRequest(pool: pg.Pool, yaml: string, o: Partial<PipelineRunRequest> = {}, subs: string[] = []): Promise<PipelineRunRequest> {
  const definition = YAML.parse(yaml) as PipelineDef;
  const pipelines = Object.fromEntries(subs.map((s) => YAML.parse(s) as PipelineDef).map((d) => [d.name, d]));
  const names = new Set(
    [definition, ...Object.values(pipelines)].flatMap((d) => [...d.steps, ...(d.on_failure ?? [])].flatMap((s) => (s.action ? [s.action] : []))),
  );
  const actions: Record<string, ActionSpec> = {};
  for (const n of names) actions[n] = (await getCurrentAction(pool, n))!;
  const runId = `pipeline.${definition.name}.${crypto.randomBytes(4).toString('hex')}`;
  return {
    kind: 'definition',
    runId,
    definition,
    pipelines,
    actions,
    source: { kind: 'file', path: `${definition.name}.yml` },
    inputs: {},
    trigger: { kind: 'test' },
    actor: 'alice',
    defaultRegion: 'us-east',
    regions: ['us-east', 'eu-west'],
    ...o,
  };
}
