/**
 * stackwire ingest <folder | git URL[#ref]>: a local folder is walked here (.gitignore honoured),
 * only the files the server lacks are uploaded, and the server analyses and catalogs them.
 * Also stackwire pack list.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import YAML from 'yaml';
import type { IngestHttpRequest, IngestResponse } from '../../common/api-types.js';
import { manifestOf } from '../../lib/pack-files.js';
import { walkTree } from '../../lib/walk.js';
import type { ApiClient } from '../api-client.js';
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

async function ingestCommand(api: ApiClient, source: string, opts: IngestOptions): Promise<number> {
  const pack = opts.pack ?? defaultPackName(source);
  const mode = opts.check ? 'check' : opts.dryRun ? 'dry-run' : 'apply';
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
    const scan = progressBar('scanning', 0);
    const { files, skipped } = walkTree(localRoot, () => scan.update(++scanned));
    scan.done();
    for (const s of skipped) err(`skipped ${s.path}: ${s.reason}`);
    if (files.length === 0) {
      err(`stackwire: ${localRoot} holds no files to ingest (after .gitignore).`);
      return 2;
    }
    const manifest = manifestOf(files);
    const { missing } = await api.missingBlobs({ hashes: manifest.map((m) => m.sha256) });
    const want = new Set(missing);
    const toSend = files.filter((f) => {
      const h = manifest.find((m) => m.path === f.path)!.sha256;
      if (!want.has(h)) return false;
      want.delete(h);
      return true;
    });
    const up = progressBar('uploading', toSend.length);
    let sent = 0;
    for (let i = 0; i < toSend.length;) {
      const batch = [];
      let bytes = 0;
      while (i < toSend.length && (batch.length === 0 || bytes + toSend[i].content.length < 8 * 1024 * 1024)) {
        const f = toSend[i++];
        bytes += f.content.length;
        batch.push({ sha256: manifest.find((m) => m.path === f.path)!.sha256, content: f.content.toString('base64') });
      }
      await api.uploadBlobs({ files: batch });
      sent += batch.length;
      up.update(sent);
    }
    up.done();
    body = { mode, source: { kind: 'upload', manifest, location: localRoot }, ...(opts.region ? { region: opts.region } : {}) };
  }
  const started = Date.now();
  const spin =
    process.stderr.isTTY && !opts.json
      ? setInterval(() => process.stderr.write(`\r\x1b[Kanalysing ${pack} on a worker … ${Math.round((Date.now() - started) / 1000)}s`), 200)
      : undefined;
  let report: IngestResponse;
  try {
    report = await api.ingest(pack, body);
  } finally {
    if (spin) {
      clearInterval(spin);
      process.stderr.write('\r\x1b[K');
    }
  }
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
    for (const c of report.changes.filter((x) => x.change !== 'unchanged')) {
      const sign = { added: '+', changed: '~', removed: '-', unchanged: ' ' }[c.change];
      out(`${sign} ${c.name}${c.version ? ` v${c.version}` : ''}${c.details ? `: ${c.details.join(', ')}` : ''}`);
    }
    const f = report.fileChanges;
    const fileLine = Object.entries<string[]>({ added: f.added, changed: f.changed, removed: f.removed })
      .filter(([, list]) => list.length)
      .map(([k, list]) => `${k} ${list.slice(0, 5).join(', ')}${list.length > 5 ? ` and ${list.length - 5} more` : ''}`);
    if (fileLine.length && mode !== 'apply') out(`pack files differ from the catalog: ${fileLine.join('; ')}`);
    for (const w of report.warnings) out(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);
    for (const u of report.unsupported) out(`unsupported: ${u.file}: ${u.reason}`);
    const s = report.summary;
    out(
      `${pack}${verb}: ${s.added} added, ${s.changed} changed, ${s.unchanged} unchanged, ${s.removed} removed, ${s.warnings} warnings${s.unsupported ? `, ${s.unsupported} unsupported` : ''} (${report.files} files${report.packVersion ? `, pack version ${report.packVersion.version}` : ''})`,
    );
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
