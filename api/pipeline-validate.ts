/**
 * POST /api/v1/pipelines/validate: pipeline files checked against the schema, the current catalog and
 * each other (the files posted together are the sub-pipelines a step may call). Nothing is stored or run.
 */
import { Router } from 'express';
import type { PipelineValidateRequest, PipelineValidateResponse } from '../common/api-types.js';
import type { ActionSpec } from '../common/types.js';
import { getCurrentAction, listActions } from '../db/actions.js';
import { pipelineFileRefs, validatePipelineFiles } from '../lib/pipeline-files.js';
import type { RouterDeps } from './deps.js';
import { route } from './http.js';

export function pipelineValidateRouter({ pool, http }: RouterDeps): Router {
  const router = Router();
  route(router, 'POST /api/v1/pipelines/validate', http, async (req, res) => {
    const { files } = req.body as PipelineValidateRequest;
    // The validator is synchronous: load the actions the files name first (and every name only when one is missing, for "did you mean").
    const named = new Set(files.flatMap((f) => pipelineFileRefs(f.content).actions));
    const found = new Map<string, ActionSpec>();
    for (const name of named) {
      const a = await getCurrentAction(pool, name);
      if (a) found.set(name, a);
    }
    const allNames = found.size < named.size ? (await listActions(pool)).map((a) => a.name) : [];
    const r = validatePipelineFiles(files, { action: (name) => found.get(name), actionNames: () => allNames });
    res.json({
      ok: r.problems.length === 0,
      problems: r.problems,
      pipelines: r.pipelines.map(({ file, name, steps }) => ({ file, name, steps })),
    } satisfies PipelineValidateResponse);
  });
  return router;
}
