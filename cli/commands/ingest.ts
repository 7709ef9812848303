/**
 * stackwire ingest <folder | git URL[#ref]>: a local folder is walked here (.gitignore honoured),
 * only the files the server lacks are uploaded (asked about and sent in batches), and a worker analyses
 * and catalogs them; the report is read back a page at a time. Also stackwire pack list and pack report.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { registerPackStateCommands } from './pack-state.js';
import YAML from 'yaml';
import type { IngestHttpRequest, ManifestEntry } from '../../common/api-types.js';
import type { IngestItem, IngestView } from '../../common/api-types-ingest.js';
import { manifestOf, type PackFile } from '../../lib/pack-files.js';
import { walkTree } from '../../lib/walk.js';
import type { ApiClient } from '../api-client.js';
import { assembleReport, printReport, readItems, readShownItems, waitForIngest } from '../ingest-report.js';
import { progressBar } from '../progress.js';
import { client, err, out, printJson, table } from '../shared.js';

interface IngestOptions {
  pack?: string;
  dryRun?: boolean;
  check?: boolean;
  json?: boolean;
  region?: string;
  write?: boolean;
}

const GIT_RE = /^(https?|ssh|git|file):\/\/|^[\w.-]+@[\w.-]+:/;

export function defaultPackName(source: string): string {
  // A StackStorm pack names itself in pack.yaml (ref, else name).
  const packYaml = GIT_RE.test(source) ? undefined : path.join(path.resolve(source), 'pack.yaml');
  if (packYaml && fs.existsSync(packYaml)) {
    const meta = YAML.parse(fs.readFileSync(packYaml, 'utf8')) as { ref?: unknown; name?: unknown } | null;
    const named = typeof meta?.ref === 'string' ? meta.ref : typeof meta?.name === 'string' ? meta.name : undefined;
    if (named && /^[a-z][a-z0-9_-]{0,62}$/.test(named)) return named;
  }
  const base = GIT_RE.test(source)
    ? source
        .replace(/#.*$/, '')
        .replace(/\.git$/, '')
        .split(/[/:]/)
        .pop()!
    : path.basename(path.resolve(source));
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[^a-z]+/, '');
  return name || 'scripts';
}

/** Hashes asked about in one request (~340 KB of JSON). */
export const CHECK_BATCH = 5000;
/** Bytes of base64 content sent in one upload request at most (one file larger than that goes alone). */
export const UPLOAD_BATCH_BYTES = 8 * 1024 * 1024;

/** Uploads the files of a tree the blob store lacks: asks in batches of CHECK_BATCH hashes, sends in batches of ≤ UPLOAD_BATCH_BYTES. */
async function uploadMissing(api: ApiClient, files: PackFile[], manifest: ManifestEntry[], quiet: boolean): Promise<{ checked: number; uploaded: number }> {
  const hashOf = new Map(manifest.map((m) => [m.path, m.sha256]));
  const hashes = [...new Set(manifest.map((m) => m.sha256))];
  const check = progressBar('checking', hashes.length, !quiet && process.stderr.isTTY);
  const want = new Set<string>();
  for (let i = 0; i < hashes.length; i += CHECK_BATCH) {
    const { missing } = await api.missingBlobs({ hashes: hashes.slice(i, i + CHECK_BATCH) });
    for (const h of missing) want.add(h);
    check.update(Math.min(i + CHECK_BATCH, hashes.length));
  }
  check.done();
  const toSend = files.filter((f) => {
    const h = hashOf.get(f.path)!;
    if (!want.has(h)) return false;
    want.delete(h);
    return true;
  });
  const up = progressBar('uploading', toSend.length, !quiet && process.stderr.isTTY);
  let sent = 0;
  for (let i = 0; i < toSend.length;) {
    const batch: { sha256: string; content: string }[] = [];
    let bytes = 0;
    while (i < toSend.length) {
      const content = toSend[i].content.toString('base64');
      if (batch.length > 0 && bytes + content.length > UPLOAD_BATCH_BYTES) break;
      bytes += content.length;
      batch.push({ sha256: hashOf.get(toSend[i].path)!, content });
      i++;
    }
    await api.uploadBlobs({ files: batch });
    sent += batch.length;
    up.update(sent);
  }
  up.done();
  return { checked: hashes.length, uploaded: toSend.length };
}

async function ingestCommand(api: ApiClient, source: string, opts: IngestOptions): Promise<number> {
  const pack = opts.pack ?? defaultPackName(source);
  const mode = opts.check ? 'check' : opts.dryRun ? 'dry-run' : 'apply';
  const tty = process.stderr.isTTY && !opts.json;
  let body: IngestHttpRequest;
  let localRoot: string | undefined;
  if (GIT_RE.test(source)) {
    const [url, ref] = source.split('#') as [string, string | undefined];
    body = { mode, source: { kind: 'git', url, ...(ref ? { ref } : {}) }, ...(opts.region ? { region: opts.region } : {}) };
  } else {
    localRoot = path.resolve(source);
    if (!fs.existsSync(localRoot) || !fs.statSync(localRoot).isDirectory()) {
      err(`stackwire: ${localRoot} is not a folder. Give a folder of scripts or a git URL (https://…, file://…, with #ref for a branch or tag).`);
      return 2;
    }
    let scanned = 0;
    const scan = progressBar('scanning', 0, tty);
    const { files, skipped } = walkTree(localRoot, () => scan.update(++scanned));
    scan.done();
    for (const s of skipped) err(`skipped ${s.path}: ${s.reason}`);
    if (files.length === 0) {
      err(`stackwire: ${localRoot} holds no files to ingest (after .gitignore).`);
      return 2;
    }
    const manifest = manifestOf(files);
    await uploadMissing(api, files, manifest, !tty);
    body = { mode, source: { kind: 'upload', manifest, location: localRoot }, ...(opts.region ? { region: opts.region } : {}) };
  }
  const started = Date.now();
  const spin = tty
    ? setInterval(() => process.stderr.write(`\r\x1b[Kanalysing ${pack} on a worker … ${Math.round((Date.now() - started) / 1000)}s`), 200)
    : undefined;
  let view: IngestView;
  let items: IngestItem[];
  try {
    const { id } = await api.ingest(pack, body);
    view = await waitForIngest(api, id);
    if (view.status === 'failed') {
      err(`stackwire: ingest of ${pack} failed, nothing was changed: ${view.error ?? 'no reason recorded'} (stackwire pack report ${id})`);
      return 1;
    }
    // The whole report for --json and for the metadata files; for the text, only what it shows.
    const whole = opts.json === true || (mode === 'apply' && localRoot !== undefined && opts.write !== false);
    items = whole ? await readItems(api, id) : await readShownItems(api, view, mode !== 'apply');
  } finally {
    if (spin) {
      clearInterval(spin);
      process.stderr.write('\r\x1b[K');
    }
  }
  const report = assembleReport(view, items);
  let written = 0;
  if (mode === 'apply' && localRoot && opts.write !== false) {
    const dir = path.join(localRoot, '.stackwire', 'actions');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const a of report.actions) {
      fs.writeFileSync(path.join(dir, `${path.basename(a.name.slice(pack.length + 1))}.yaml`), a.yaml);
      written++;
    }
  }
  if (opts.json) {
    printJson(report);
  } else {
    const verb = mode === 'apply' ? '' : mode === 'dry-run' ? ' (dry run: nothing changed)' : ' (check: nothing changed)';
    printReport(report, { verb, showFileDrift: mode !== 'apply' });
    out(`report: stackwire pack report ${report.id}`);
    if (written)
      out(
        `metadata written to ${path.relative(process.cwd(), path.join(localRoot!, '.stackwire', 'actions')) || '.'}/ (${written} files) — review and commit it`,
      );
  }
  if (mode === 'check' && report.drift) {
    if (!opts.json)
      err(`stackwire: the catalog differs from ${source}; run 'stackwire ingest ${source}${opts.pack ? ` --pack ${opts.pack}` : ''}' to update it.`);
    return 1;
  }
  return 0;
}

/** stackwire pack report <id>: a stored ingest report (waiting for its end unless --no-wait). */
async function reportCommand(api: ApiClient, id: string, opts: { json?: boolean; wait: boolean }): Promise<number> {
  const view = opts.wait ? await waitForIngest(api, id) : await api.getIngest(id);
  if (view.status !== 'succeeded') {
    if (opts.json) printJson(view);
    else
      out(
        `${view.pack}: ingest ${id} ${view.status}${view.error ? `: ${view.error}` : ''} (${view.mode}, started ${view.createdAt}${view.actor ? ` by ${view.actor}` : ''})`,
      );
    return view.status === 'failed' ? 1 : 0;
  }
  const drift = view.mode !== 'apply';
  const report = assembleReport(view, opts.json ? await readItems(api, id) : await readShownItems(api, view, drift));
  if (opts.json) printJson({ ...report, status: view.status, actor: view.actor, createdAt: view.createdAt, finishedAt: view.finishedAt });
  else {
    out(`ingest ${id}: ${view.mode} by ${view.actor ?? 'a push or a pipeline'}, ${view.createdAt} → ${view.finishedAt ?? '?'}`);
    printReport(report, { verb: drift ? ` (${view.mode}: nothing changed)` : '', showFileDrift: drift });
  }
  return 0;
}

export function registerIngestCommands(program: Command): void {
  program
    .command('ingest')
    .description('turn a folder or git repository of scripts into actions (parameters inferred, never by running them)')
    .argument('<source>', 'a folder, or a git URL with an optional #ref (branch or tag)')
    .option('--pack <name>', 'pack name (default: the folder or repository name)')
    .option('--dry-run', 'show what would change; change nothing')
    .option('--check', 'exit 1 and list the differences when the catalog differs from the source (for CI)')
    .option('--region <region>', 'region whose worker analyses the scripts')
    .option('--no-write', 'do not write the generated metadata to <folder>/.stackwire/actions/')
    .option('--json', 'print the full report as JSON')
    .action(async (source: string, opts: IngestOptions & { write: boolean }, cmd: Command) => {
      process.exitCode = await ingestCommand(client(cmd), source, opts);
    });

  const pack = program.command('pack').description('packs in the catalog');
  registerPackStateCommands(pack);
  pack
    .command('add')
    .description('register a scripts repository: ingest it from git now, and again whenever a push to its branch reaches the GitHub webhook')
    .argument('<name>', 'the pack')
    .argument('<git-url>', 'https://…, ssh://… or user@host:path (file://… where the workers allow it)')
    .option('--branch <branch>', "the branch that is followed (default: the repository's default branch)")
    .option('--region <region>', 'the region whose worker clones and analyses it')
    .option('--json', 'print the full report as JSON')
    .action(async (name: string, url: string, opts: { branch?: string; region?: string; json?: boolean }, cmd: Command) => {
      const o: IngestOptions = { pack: name, ...(opts.region ? { region: opts.region } : {}), ...(opts.json ? { json: true } : {}) };
      process.exitCode = await ingestCommand(client(cmd), `${url}${opts.branch ? `#${opts.branch}` : ''}`, o);
    });
  pack
    .command('report')
    .description('show a stored ingest report: the summary, changed actions, warnings, unsupported and changed files (every item with --json)')
    .argument('<id>', 'the ingest id (stackwire ingest prints it; POST /api/v1/packs/:pack/ingest answers it)')
    .option('--no-wait', 'answer at once while the ingest still runs')
    .option('--json', 'print the whole report as JSON')
    .action(async (id: string, opts: { json?: boolean; wait: boolean }, cmd: Command) => {
      process.exitCode = await reportCommand(client(cmd), id, opts);
    });
  pack
    .command('list')
    .description('list packs with their version, source and action count')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { packs } = await client(cmd).listPacks();
      if (opts.json) return printJson(packs);
      if (!packs.length) return out('no packs yet');
      out(
        table([
          ['PACK', 'VERSION', 'ACTIONS', 'SOURCE'],
          ...packs.map((p) => [p.name, String(p.version), String(p.actions), `${p.source.kind ?? ''} ${p.source.url ?? p.source.location ?? ''}`.trim()]),
        ]),
      );
    });
}
