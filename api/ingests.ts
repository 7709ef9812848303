/**
 * Ingest reports, by reference: `GET /api/v1/ingests/:id[?wait=S]` (the summary, waiting for the end)
 * and `GET /api/v1/ingests/:id/items` (actions, warnings, unsupported files and changed files, a page
 * at a time). The report is written by the ingest activity; a workflow that ended without writing it
 * (timed out, terminated) is reported failed from its Temporal status.
 */
import { Router } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { IngestItemKind, IngestItemsResponse, IngestView } from '../common/api-types-ingest.js';
import { RUN_ID } from '../common/validation.js';
import { getIngest, listIngestItems } from '../db/ingests.js';
import type { Pool } from '../db/pool.js';
import { ApiError } from './errors.js';
import type { RouterDeps } from './deps.js';
import { principal, route } from './http.js';
import { checkPackScope, type Principal } from './security/permissions.js';

const PAGE_DEFAULT = 1000;
const PAGE_MAX = 5000;

async function readIngest(pool: Pool, p: Principal, id: string): Promise<IngestView> {
  if (!RUN_ID.test(id))
    throw new ApiError(400, 'invalid_request', `ingest ids are letters, digits and . _ : - (at most 200); ${JSON.stringify(id)} is not one.`);
  const view = await getIngest(pool, id);
  if (!view)
    throw new ApiError(
      404,
      'ingest_not_found',
      `no ingest ${JSON.stringify(id)}; POST /api/v1/packs/:pack/ingest (stackwire ingest) answers with the id of the one it starts.`,
    );
  checkPackScope(p, view.pack, 'packs.read');
  return view;
}

export function ingestsRouter({ client, pool, config, http }: RouterDeps): Router {
  const router = Router();

  route(router, 'GET /api/v1/ingests/:id', http, async (req, res) => {
    const id = req.params.id;
    let view = await readIngest(pool, principal(req), id);
    const wait = req.query.wait === undefined ? 0 : Math.min(Number(req.query.wait), config.api.maxWaitSeconds);
    if (view.status !== 'running') return void res.json(view);
    const handle = client.workflow.getHandle(id);
    if (wait > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        handle.result().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, wait * 1000);
        }),
      ]);
      clearTimeout(timer);
      view = (await getIngest(pool, id)) ?? view;
      if (view.status !== 'running') return void res.json(view);
    }
    // Still running here: unless its workflow ended without writing the report (timed out, terminated).
    try {
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') {
        view = (await getIngest(pool, id)) ?? view;
        if (view.status === 'running')
          view = {
            ...view,
            status: 'failed',
            finishedAt: d.closeTime?.toISOString() ?? null,
            error: `the ingest workflow ended ${d.status.name} before it recorded its report; nothing was changed. Run the ingest again.`,
          };
      }
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    res.json(view);
  });

  route(router, 'GET /api/v1/ingests/:id/items', http, async (req, res) => {
    const id = req.params.id;
    await readIngest(pool, principal(req), id);
    const after = req.query.after === undefined ? 0 : Number(req.query.after);
    const limit = req.query.limit === undefined ? PAGE_DEFAULT : Number(req.query.limit);
    if (limit < 1 || limit > PAGE_MAX) throw new ApiError(400, 'invalid_request', `limit is 1 … ${PAGE_MAX} items a page (default ${PAGE_DEFAULT}).`);
    const kind = req.query.kind as IngestItemKind | undefined;
    const items = await listIngestItems(pool, id, { after, limit, ...(kind ? { kind } : {}) });
    res.json({ items, next: items.length === limit ? items[items.length - 1].seq : null } satisfies IngestItemsResponse);
  });
  return router;
}
