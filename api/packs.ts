/**
 * Pack ingestion over HTTP. A client uploads only the blobs the store lacks (content-addressed),
 * then asks for an ingest of a manifest (or of a git repository); the analysis runs as a
 * `packIngest` workflow on a region's worker. The answer is 202 with the ingest's id: its report is
 * kept in Postgres and read from api/ingests.ts.
 */
import crypto from 'node:crypto';
import { Router } from 'express';
import { regionTaskQueue } from '../common/constants.js';
import { listPacks, missingBlobs, sha256, storeBlobs, type ManifestEntry } from '../db/packs.js';
import type { IngestRequest } from '../ingest/ingest.js';
import { ApiError } from './errors.js';
import type { RouterDeps } from './deps.js';
import { principal, route } from './http.js';
import { checkPackScope } from './security/permissions.js';
import { packIngest } from '../workflows/index.js';
import { gitUrlProblem } from '../common/git-url.js';
import { PACK_NAME, SHA256_HEX } from '../common/validation.js';
import type { BlobsMissingResponse, BlobsUploadResponse, IngestHttpRequest, PackListResponse } from '../common/api-types.js';
import type { IngestStartResponse } from '../common/api-types-ingest.js';
import { createIngest, recordIngestFailure } from '../db/ingests.js';

const MODES = ['apply', 'dry-run', 'check'] as const;

function checkManifest(m: unknown): ManifestEntry[] {
  if (!Array.isArray(m) || m.length === 0)
    throw new ApiError(400, 'invalid_request', 'source.manifest must be a non-empty array of {path, mode, sha256, size}.');
  if (m.length > 100_000) throw new ApiError(400, 'invalid_request', 'source.manifest lists more than 100,000 files.');
  return m.map((e: Record<string, unknown>, i) => {
    const path = e?.path;
    if (typeof path !== 'string' || path === '' || path.startsWith('/') || path.split('/').includes('..'))
      throw new ApiError(400, 'invalid_request', `source.manifest[${i}].path must be a relative path inside the pack.`);
    if (typeof e.sha256 !== 'string' || !SHA256_HEX.test(e.sha256))
      throw new ApiError(400, 'invalid_request', `source.manifest[${i}].sha256 must be 64 lower-case hex digits.`);
    const mode = typeof e.mode === 'number' ? e.mode & 0o777 : 0o644;
    return { path, mode, sha256: e.sha256, size: typeof e.size === 'number' ? e.size : 0 };
  });
}

export function packsRouter({ client, pool, config, logger, http }: RouterDeps): Router {
  const router = Router();

  route(router, 'POST /api/v1/blobs/missing', http, async (req, res) => {
    const hashes = ((req.body ?? {}) as { hashes?: unknown }).hashes;
    if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === 'string' && SHA256_HEX.test(h)))
      throw new ApiError(400, 'invalid_request', 'hashes must be an array of sha256 hex strings.');
    res.json({ missing: await missingBlobs(pool, hashes as string[]) } satisfies BlobsMissingResponse);
  });

  route(router, 'POST /api/v1/blobs', http, async (req, res) => {
    const files = ((req.body ?? {}) as { files?: unknown }).files;
    if (!Array.isArray(files)) throw new ApiError(400, 'invalid_request', 'files must be an array of {sha256, content} with content in base64.');
    const decoded = files.map((f: Record<string, unknown>, i) => {
      if (typeof f?.content !== 'string' || typeof f.sha256 !== 'string')
        throw new ApiError(400, 'invalid_request', `files[${i}] needs sha256 and base64 content.`);
      const content = Buffer.from(f.content, 'base64');
      if (sha256(content) !== f.sha256)
        throw new ApiError(400, 'hash_mismatch', `files[${i}]: the content does not match sha256 ${f.sha256}; nothing was stored.`);
      return { path: '', mode: 0, content };
    });
    await storeBlobs(pool, decoded);
    res.json({ stored: decoded.length } satisfies BlobsUploadResponse);
  });

  route(router, 'GET /api/v1/packs', http, async (_req, res) => {
    res.json({ packs: await listPacks(pool) } satisfies PackListResponse);
  });

  route(router, 'POST /api/v1/packs/:pack/ingest', http, async (req, res) => {
    const pack = req.params.pack;
    checkPackScope(principal(req), pack, 'packs.ingest');
    if (!PACK_NAME.test(pack))
      throw new ApiError(
        400,
        'invalid_request',
        `pack name ${JSON.stringify(pack)} is not valid: lower-case letters, digits, _ and -, starting with a letter.`,
      );
    if (pack === 'core')
      throw new ApiError(400, 'reserved_pack', 'pack "core" holds the built-in actions (core.ingest …); ingest under another name (--pack NAME).');
    const body = (req.body ?? {}) as { source?: Record<string, unknown>; mode?: string; region?: string };
    const mode = (body.mode ?? 'apply') as IngestRequest['mode'];
    if (!(MODES as readonly string[]).includes(mode)) throw new ApiError(400, 'invalid_request', `mode must be one of ${MODES.join(', ')}.`);
    const region = body.region ?? config.regions[0];
    if (!config.regions.includes(region))
      throw new ApiError(400, 'invalid_region', `region ${JSON.stringify(region)} is not configured; use one of ${config.regions.join(', ')}.`);
    const s = body.source;
    let source: IngestHttpRequest['source'];
    if (s?.kind === 'upload') {
      const manifest = checkManifest(s.manifest);
      const missing = await missingBlobs(
        pool,
        manifest.map((m) => m.sha256),
      );
      if (missing.length)
        throw new ApiError(409, 'blobs_missing', `${missing.length} file(s) of the manifest were not uploaded; POST them to /api/v1/blobs first.`, { missing });
      source = { kind: 'upload', manifest, ...(typeof s.location === 'string' ? { location: s.location } : {}) };
    } else if (s?.kind === 'git') {
      // The workers enforce the same policy (the real gate); checking here answers before anything starts.
      const problem = typeof s.url === 'string' ? gitUrlProblem(s.url, config.git) : 'source.url must be a string';
      if (problem) throw new ApiError(400, 'invalid_request', `source.url: ${problem}`);
      source = { kind: 'git', url: String(s.url), ...(typeof s.ref === 'string' && s.ref ? { ref: s.ref } : {}) };
    } else {
      throw new ApiError(400, 'invalid_request', 'source must be {"kind": "upload", "manifest": […]} or {"kind": "git", "url": "…", "ref": "…"}.');
    }
    const workflowId = `ingest-${pack}-${crypto.randomBytes(5).toString('hex')}`;
    // The manifest goes to the workflow by reference: a blob of the store (content-addressed, so the
    // same tree ingested again stores nothing new).
    let request: IngestRequest;
    let manifestBlob: string | null = null;
    let recorded: Record<string, unknown>;
    if (source.kind === 'upload') {
      const content = Buffer.from(JSON.stringify(source.manifest));
      manifestBlob = sha256(content);
      await storeBlobs(pool, [{ path: '', mode: 0, content }]);
      request = {
        pack,
        mode,
        source: { kind: 'upload', manifestBlob, files: source.manifest.length, ...(source.location !== undefined ? { location: source.location } : {}) },
      };
      recorded = { kind: 'upload', location: source.location ?? null };
    } else {
      request = { pack, source, mode };
      recorded = { ...source };
    }
    const actor = principal(req).actor;
    await createIngest(pool, { id: workflowId, pack, mode, source: recorded, actor, region, manifestBlob });
    try {
      await client.workflow.start(packIngest, {
        taskQueue: regionTaskQueue(region),
        workflowId,
        args: [request],
        workflowExecutionTimeout: '35m',
        staticSummary: `ingest ${pack} (${source.kind}, ${mode}${source.kind === 'upload' ? `, ${source.manifest.length} files` : ''}) by ${actor}`,
      });
    } catch (err) {
      await recordIngestFailure(pool, { id: workflowId, pack, mode, source: recorded, actor, region }, `the ingest workflow could not start: ${String(err)}`);
      throw err;
    }
    logger.info({ workflowId, pack, mode, source: source.kind }, 'ingest requested');
    req.audit = { target: `pack:${pack}`, parameters: { ingest: workflowId, mode, source: recorded } };
    res.status(202).json({
      id: workflowId,
      workflowId,
      pack,
      mode,
      links: { report: `/api/v1/ingests/${workflowId}`, items: `/api/v1/ingests/${workflowId}/items` },
    } satisfies IngestStartResponse);
  });
  return router;
}
