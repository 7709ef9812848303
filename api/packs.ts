/**
 * Pack ingestion over HTTP. A client uploads only the blobs the store lacks (content-addressed),
 * then asks for an ingest of a manifest (or of a git repository); the analysis runs as a
 * `packIngest` workflow on a region's worker, and the report comes back in the response.
 */
import crypto from 'node:crypto';
import { Router } from 'express';
import { WorkflowFailedError } from '@temporalio/client';
import { regionTaskQueue } from '../common/constants.js';
import { listPacks, missingBlobs, sha256, storeBlobs, type ManifestEntry } from '../db/packs.js';
import type { IngestRequest, IngestSource } from '../ingest/ingest.js';
import { ApiError } from './errors.js';
import type { RouterDeps } from './deps.js';
import { principal, route } from './http.js';
import { checkPackScope } from './security/permissions.js';
import { packIngest } from '../workflows/index.js';
import { gitUrlProblem } from '../common/git-url.js';
import { PACK_NAME, SHA256_HEX } from '../common/validation.js';
import type { BlobsMissingResponse, BlobsUploadResponse, PackListResponse } from '../common/api-types.js';

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
    let source: IngestSource;
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
    const request: IngestRequest = { pack, source, mode };
    const workflowId = `ingest-${pack}-${crypto.randomBytes(5).toString('hex')}`;
    const handle = await client.workflow.start(packIngest, {
      taskQueue: regionTaskQueue(region),
      workflowId,
      args: [request],
      workflowExecutionTimeout: '35m',
      staticSummary: `ingest ${pack} (${source.kind}, ${mode})`,
    });
    logger.info({ workflowId, pack, mode, source: source.kind }, 'ingest requested');
    try {
      const report = await handle.result();
      res.json({ workflowId, ...report });
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const cause = (err.cause?.cause ?? err.cause) as Error | undefined;
        throw new ApiError(422, 'ingest_failed', `ingest of ${pack} failed, nothing was changed: ${cause?.message ?? err.message}`, { workflowId });
      }
      throw err;
    }
  });
  return router;
}
