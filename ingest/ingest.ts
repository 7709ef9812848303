/**
 * One ingest of a pack: obtain its files (an upload already in the blob store, a git repository, or a
 * folder on the worker), analyse them, compare with the catalog, and — unless it is a dry run or a
 * check — store the pack version and upsert its actions in one transaction. Runs in an activity.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActionChange, IngestMode, IngestReport, IngestSource } from '../common/api-types.js';
import type { ActionSpec, PackRef } from '../common/types.js';
import { packActions } from '../db/actions.js';
import { currentPackManifest, loadBlobs, manifestOf, registerPackVersion, sha256, type PackFile } from '../db/packs.js';
import type { Pool } from '../db/pool.js';
import { walkTree } from '../lib/walk.js';
import { actionYaml, analyzePack, type IngestedAction } from './analyze.js';
import { PACK_NAME } from '../common/validation.js';

export type { ActionChange, IngestReport, IngestSource } from '../common/api-types.js';

/** The packIngest workflow's input. */
export interface IngestRequest {
  pack: string;
  source: IngestSource;
  mode: IngestMode;
}

export class IngestError extends Error {
  override name = 'IngestError';
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, HOME: os.tmpdir(), GIT_TERMINAL_PROMPT: '0' } });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('error', (e) => reject(new IngestError(`cannot run ${cmd}: ${e.message}`)));
    c.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new IngestError(`${cmd} ${args[0]} failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' ')}`)),
    );
  });
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

function definitionKey(
  a: Pick<
    ActionSpec,
    'contentHash' | 'description' | 'runner' | 'entryPoint' | 'parameters' | 'timeoutSeconds' | 'maxAttempts' | 'region' | 'argvPrefix' | 'origin'
  >,
): string {
  return JSON.stringify([
    a.contentHash,
    a.description,
    a.runner,
    a.entryPoint,
    a.parameters,
    a.timeoutSeconds,
    a.maxAttempts,
    a.region ?? null,
    a.argvPrefix ?? [],
    a.origin ?? 'metadata',
  ]);
}

export interface IngestDeps {
  pool: Pool;
  /** Environment for git (PATH …). */
  env: Record<string, string>;
  progress?: (phase: string, done: number, total: number) => void;
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
      const manifest = req.source.manifest;
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
      if (/^-/.test(url) || (ref !== undefined && /^-/.test(ref))) throw new IngestError('a git URL or ref may not start with "-"');
      if (/^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url))
        throw new IngestError(
          'the git URL holds a password or token (https://user:secret@…), which would be stored in the catalog; give the workers access with a credential helper or a deploy key instead',
        );
      root = path.join(work, 'repo');
      deps.progress?.('cloning', 0, 1);
      // A long clone keeps the activity's heartbeat going.
      const beat = setInterval(() => deps.progress?.('cloning', 0, 1), 5000);
      await run('git', ['clone', '--quiet', '--depth', '1', ...(ref ? ['--branch', ref] : []), '--', url, root], work, deps.env);
      clearInterval(beat);
      const commit = await run('git', ['rev-parse', 'HEAD'], root, deps.env);
      files = walkTree(root).files;
      source = { kind: 'git', url, ref: ref ?? null, commit };
    } else {
      root = path.resolve(req.source.path);
      if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new IngestError(`${root} is not a folder on the worker`);
      files = walkTree(root).files;
      source = { kind: 'path', path: root };
    }
    const analysis = await analyzePack(root, req.pack, files, deps.progress);
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
    const fileChanges = {
      added: now.filter((m) => !before.has(m.path)).map((m) => m.path),
      changed: now.filter((m) => before.has(m.path) && (before.get(m.path)!.sha256 !== m.sha256 || before.get(m.path)!.mode !== m.mode)).map((m) => m.path),
      removed: [...before.keys()].filter((p) => !now.some((m) => m.path === p)).sort(),
    };
    let packVersion: PackRef | undefined;
    if (req.mode === 'apply') {
      const registered = await registerPackVersion(
        deps.pool,
        req.pack,
        files,
        source,
        analysis.actions.map(({ framework: _f, ...a }) => ({ ...a, packDir: '' })),
      );
      packVersion = registered.packVersion;
      const versions = new Map(registered.outcomes.map((o) => [o.name, o.version]));
      for (const c of changes) c.version = versions.get(c.name) ?? c.version;
    }
    changes.sort((a, b) => (a.name < b.name ? -1 : 1));
    const count = (k: ActionChange['change']) => changes.filter((c) => c.change === k).length;
    const summary = {
      added: count('added'),
      changed: count('changed'),
      unchanged: count('unchanged'),
      removed: count('removed'),
      warnings: analysis.warnings.length,
      unsupported: analysis.unsupported.length,
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
      actions: analysis.actions.map((a) => ({ name: a.name, sourcePath: a.sourcePath ?? a.entryPoint, framework: a.framework, yaml: actionYaml(a) })),
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
