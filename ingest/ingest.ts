/**
 * One ingest of a pack: obtain its files (an upload already in the blob store, its manifest a blob
 * too, a git repository, or a folder on the worker), analyse them, compare with the catalog, and —
 * unless it is a dry run or a check — store the pack version and upsert its actions in one
 * transaction, which also stores the report when the caller records one (`record`). Runs in an activity.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActionChange, IngestMode, IngestReport, IngestSource } from '../common/api-types.js';
import type { ActionSpec, PackRef } from '../common/types.js';
import { definitionKey, packActions } from '../db/actions.js';
import { currentPackManifest, loadBlobs, manifestOf, registerPackVersion, sha256, type ManifestEntry, type PackFile } from '../db/packs.js';
import { inTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { breather } from '../lib/breather.js';
import { walkTree } from '../lib/walk.js';
import { PACK_NAME } from '../common/validation.js';
import type { Config } from '../lib/config.js';
import { GitError, cloneRepository, git } from '../lib/git.js';
import { actionYaml, analyzePack, type IngestedAction } from './analyze.js';

export type { ActionChange, IngestReport, IngestSource } from '../common/api-types.js';

/**
 * An upload as the packIngest workflow receives it: the manifest by reference (a blob of the
 * content-addressed store holding its JSON), so the workflow's input stays small for any pack.
 */
export interface UploadByReference {
  kind: 'upload';
  manifestBlob: string;
  /** Files the manifest lists (for the Web UI's summary). */
  files: number;
  location?: string;
}

/** The packIngest workflow's input. (An upload with its manifest inline is what runs started before manifests went by reference carry.) */
export interface IngestRequest {
  pack: string;
  source: IngestSource | UploadByReference;
  mode: IngestMode;
}

export class IngestError extends Error {
  override name = 'IngestError';
}

function describeChanges(old: ActionSpec, next: IngestedAction): string[] {
  const d: string[] = [];
  const op = old.parameters.properties;
  const np = next.parameters.properties;
  for (const k of Object.keys(np)) if (!op[k]) d.push(`parameter ${k} added`);
  for (const k of Object.keys(op)) if (!np[k]) d.push(`parameter ${k} removed`);
  for (const k of Object.keys(np)) if (op[k] && JSON.stringify(op[k]) !== JSON.stringify(np[k])) d.push(`parameter ${k} changed`);
  if (JSON.stringify([...old.parameters.required].sort()) !== JSON.stringify([...next.parameters.required].sort())) d.push('required parameters changed');
  if (old.description !== next.description) d.push('description changed');
  if (old.runner !== next.runner || old.entryPoint !== next.entryPoint) d.push('runner or entry point changed');
  if (old.timeoutSeconds !== next.timeoutSeconds || old.maxAttempts !== next.maxAttempts) d.push('timeout or attempts changed');
  if (old.contentHash !== next.contentHash) d.push('script content changed');
  return d.length ? d : ['metadata changed'];
}

export interface IngestDeps {
  pool: Pool;
  /** Environment for git and the Python analyser: PATH, LANG, TZ (Config.scriptEnv), nothing else of ours. */
  env: Record<string, string>;
  /** Which git URLs may be cloned, and for how long (STACKWIRE_GIT_*). */
  git: Config['git'];
  /** Folders path ingest may read (STACKWIRE_INGEST_PATHS); empty: path ingest is refused. */
  ingestPaths: string[];
  progress?: (phase: string, done: number, total: number) => void;
  /** Cancels a running clone. */
  signal?: AbortSignal | undefined;
  /**
   * Stores the report: called inside the transaction that applies the pack (apply), or in one of its
   * own (dry-run, check), so the stored report and the catalog never disagree.
   */
  record?: (client: PoolClient, report: IngestReport) => Promise<void>;
}

/** The manifest of an upload, inline or from the blob store. */
async function uploadManifest(pool: Pool, source: Extract<IngestRequest['source'], { kind: 'upload' }>): Promise<ManifestEntry[]> {
  if ('manifest' in source) return source.manifest;
  const blob = (await loadBlobs(pool, [source.manifestBlob])).get(source.manifestBlob);
  if (!blob) throw new IngestError(`the manifest of the upload (blob ${source.manifestBlob}) is missing from the blob store; run the ingest again`);
  const manifest = JSON.parse(blob.toString('utf8')) as ManifestEntry[];
  if (!Array.isArray(manifest)) throw new IngestError(`blob ${source.manifestBlob} is not a manifest (a JSON array of {path, mode, sha256})`);
  return manifest;
}

/** A folder on the worker, resolved through symlinks, that lies inside one of the allowed folders. */
export function allowedIngestPath(requested: string, allowed: string[]): string {
  if (allowed.length === 0)
    throw new IngestError(
      `path ingest on the worker is turned off: STACKWIRE_INGEST_PATHS lists no folder. Set it on the workers to the folders packs may be ingested from (absolute paths separated by ":"), or ingest a git URL, or upload the folder with the CLI (stackwire ingest <folder>).`,
    );
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(requested));
  } catch {
    throw new IngestError(`${requested} is not a folder on the worker`);
  }
  if (!fs.statSync(real).isDirectory()) throw new IngestError(`${requested} is not a folder on the worker`);
  const inside = allowed.some((a) => {
    let base: string;
    try {
      base = fs.realpathSync(a);
    } catch {
      return false;
    }
    return real === base || real.startsWith(base.endsWith(path.sep) ? base : base + path.sep);
  });
  if (!inside)
    throw new IngestError(
      `${requested}${real !== path.resolve(requested) ? ` (${real})` : ''} is not inside a folder listed in STACKWIRE_INGEST_PATHS (${allowed.join(':')}); put the pack there or add its folder to the variable on the workers.`,
    );
  return real;
}

export async function ingest(deps: IngestDeps, req: IngestRequest): Promise<IngestReport> {
  if (!PACK_NAME.test(req.pack))
    throw new IngestError(`pack name ${JSON.stringify(req.pack)} is not valid: use lower-case letters, digits, _ and -, starting with a letter (--pack NAME).`);
  if (req.pack === 'core') throw new IngestError('pack "core" holds the built-in actions (core.ingest …); ingest under another name (--pack NAME).');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `stackwire-ingest-${req.pack}-`));
  try {
    let files: PackFile[];
    let root: string;
    let source: Record<string, unknown>;
    if (req.source.kind === 'upload') {
      const manifest = await uploadManifest(deps.pool, req.source);
      const blobs = await loadBlobs(deps.pool, [...new Set(manifest.map((m) => m.sha256))]);
      root = work;
      files = manifest.map((m) => {
        const content = blobs.get(m.sha256);
        if (!content) throw new IngestError(`the upload of ${m.path} is missing from the blob store; upload it again`);
        if (sha256(content) !== m.sha256) throw new IngestError(`${m.path} does not match its hash`);
        const file = path.join(work, m.path);
        if (!file.startsWith(work + path.sep)) throw new IngestError(`${m.path} points outside the pack`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content, { mode: m.mode });
        return { path: m.path, mode: m.mode, content };
      });
      source = { kind: 'upload', location: req.source.location ?? null };
    } else if (req.source.kind === 'git') {
      const { url, ref } = req.source;
      root = path.join(work, 'repo');
      const home = path.join(work, 'home');
      fs.mkdirSync(home);
      const ctx = { policy: deps.git, baseEnv: deps.env, home, signal: deps.signal };
      deps.progress?.('cloning', 0, 1);
      // A long clone keeps the activity's heartbeat going.
      const beat = setInterval(() => deps.progress?.('cloning', 0, 1), 5000);
      let commit: string;
      try {
        await cloneRepository(ctx, url, root, { ref, depth: 1 });
        commit = await git(ctx, ['rev-parse', 'HEAD'], root);
      } catch (err) {
        if (err instanceof GitError) throw new IngestError(err.message);
        throw err;
      } finally {
        clearInterval(beat);
      }
      files = walkTree(root).files;
      source = { kind: 'git', url, ref: ref ?? null, commit };
    } else {
      root = allowedIngestPath(req.source.path, deps.ingestPaths);
      files = walkTree(root).files;
      source = { kind: 'path', path: root };
    }
    const analysis = await analyzePack(root, req.pack, files, deps.progress, deps.env);
    // Converted StackStorm workflows (pipelines/*.yml) join the pack version's files.
    files = [...files, ...analysis.generated];
    const current = await packActions(deps.pool, req.pack);
    const currentByName = new Map(current.map((a) => [a.name, a]));
    const changes: ActionChange[] = [];
    for (const a of analysis.actions) {
      const cur = currentByName.get(a.name);
      if (!cur || cur.removed) changes.push({ name: a.name, change: 'added' });
      else if (definitionKey(cur) === definitionKey(a)) changes.push({ name: a.name, change: 'unchanged', version: cur.version });
      else changes.push({ name: a.name, change: 'changed', details: describeChanges(cur, a) });
    }
    const names = new Set(analysis.actions.map((a) => a.name));
    for (const c of current) if (!c.removed && !names.has(c.name)) changes.push({ name: c.name, change: 'removed', version: c.version });
    const before = new Map(((await currentPackManifest(deps.pool, req.pack)) ?? []).map((m) => [m.path, m]));
    const now = manifestOf(files);
    const nowPaths = new Set(now.map((m) => m.path));
    const fileChanges = {
      added: now.filter((m) => !before.has(m.path)).map((m) => m.path),
      changed: now.filter((m) => before.has(m.path) && (before.get(m.path)!.sha256 !== m.sha256 || before.get(m.path)!.mode !== m.mode)).map((m) => m.path),
      removed: [...before.keys()].filter((p) => !nowPaths.has(p)).sort(),
    };
    const breathe = breather();
    const actions: IngestReport['actions'] = [];
    for (const a of analysis.actions) {
      await breathe();
      actions.push({ name: a.name, sourcePath: a.sourcePath ?? a.entryPoint, framework: a.framework, yaml: actionYaml(a) });
    }
    deps.progress?.('recording', 0, 1);
    const report = (packVersion?: PackRef): IngestReport => {
      changes.sort((a, b) => (a.name < b.name ? -1 : 1));
      const count = (k: ActionChange['change']) => changes.filter((c) => c.change === k).length;
      const summary = {
        added: count('added'),
        changed: count('changed'),
        unchanged: count('unchanged'),
        removed: count('removed'),
        warnings: analysis.warnings.length,
        unsupported: analysis.unsupported.length,
        parameters: analysis.parameters.inferred,
        toReview: analysis.parameters.review.length,
        freeForm: analysis.parameters.freeForm.length,
      };
      return {
        pack: req.pack,
        mode: req.mode,
        source,
        ...(packVersion ? { packVersion } : {}),
        files: files.length,
        changes,
        summary,
        fileChanges,
        drift: summary.added + summary.changed + summary.removed + fileChanges.added.length + fileChanges.changed.length + fileChanges.removed.length > 0,
        warnings: analysis.warnings,
        unsupported: analysis.unsupported,
        actions,
      };
    };
    if (req.mode !== 'apply') {
      const r = report();
      const record = deps.record;
      if (record) await inTransaction(deps.pool, (client) => record(client, r));
      return r;
    }
    let out: IngestReport | undefined;
    await registerPackVersion(
      deps.pool,
      req.pack,
      files,
      source,
      analysis.actions.map(({ framework: _f, ...a }) => ({ ...a, packDir: '' })),
      async (client, registered) => {
        const versions = new Map(registered.outcomes.map((o) => [o.name, o.version]));
        for (const c of changes) c.version = versions.get(c.name) ?? c.version;
        out = report(registered.packVersion);
        await deps.record?.(client, out);
      },
      (done, total) => deps.progress?.('cataloguing', done, total),
    );
    return out!;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
