/**
 * Reading an ingest's report through the API: wait for its end, read its items a page at a time,
 * assemble the whole report (`--json`) and print it for people (long lists cut, with the command that
 * shows the rest).
 */
import type { ActionChange, IngestResponse } from '../common/api-types.js';
import type { IngestItem, IngestView } from '../common/api-types-ingest.js';
import type { ApiClient } from './api-client.js';
import { out } from './shared.js';

/** Items a page (the API's maximum). */
const PAGE = 5000;
/** Lines of one kind printed before "… and N more". */
const SHOWN = 200;

/** Waits for the ingest's end, `tick` told the seconds so far between long polls. */
export async function waitForIngest(api: ApiClient, id: string, tick?: (view: IngestView) => void): Promise<IngestView> {
  for (;;) {
    const view = await api.getIngest(id, 20);
    if (view.status !== 'running') return view;
    tick?.(view);
  }
}

export async function readItems(api: ApiClient, id: string, progress?: (n: number) => void): Promise<IngestItem[]> {
  const items: IngestItem[] = [];
  let after = 0;
  for (;;) {
    const page = await api.ingestItems(id, { after, limit: PAGE });
    items.push(...page.items);
    progress?.(items.length);
    if (page.next === null) return items;
    after = page.next;
  }
}

/** The whole report in the shape the API answered with before reports went by reference. */
export function assembleReport(view: IngestView, items: IngestItem[]): IngestResponse {
  const report: IngestResponse = {
    id: view.id,
    workflowId: view.workflowId,
    pack: view.pack,
    mode: view.mode,
    source: view.source,
    ...(view.packVersion ? { packVersion: view.packVersion } : {}),
    files: view.files ?? 0,
    changes: [],
    summary: view.summary ?? { added: 0, changed: 0, unchanged: 0, removed: 0, warnings: 0, unsupported: 0 },
    fileChanges: { added: [], changed: [], removed: [] },
    drift: view.drift ?? false,
    warnings: [],
    unsupported: [],
    actions: [],
  };
  for (const i of items) {
    if (i.kind === 'action') {
      const c: ActionChange = { name: i.name, change: i.change };
      if (i.version !== undefined) c.version = i.version;
      if (i.details) c.details = i.details;
      report.changes.push(c);
      if (i.yaml !== undefined) report.actions.push({ name: i.name, sourcePath: i.sourcePath ?? '', framework: i.framework ?? '', yaml: i.yaml });
    } else if (i.kind === 'warning') report.warnings.push({ file: i.file, line: i.line, message: i.message });
    else if (i.kind === 'unsupported') report.unsupported.push({ file: i.file, reason: i.reason });
    else report.fileChanges[i.change].push(i.path);
  }
  return report;
}

function capped(lines: string[], what: string, id: string): string[] {
  if (lines.length <= SHOWN) return lines;
  return [...lines.slice(0, SHOWN), `… and ${lines.length - SHOWN} more ${what} (stackwire pack report ${id} --json lists them all)`];
}

/** The report for people: changed actions, file drift (unless applied), warnings, unsupported files, the summary line. */
export function printReport(report: IngestResponse, opts: { verb: string; showFileDrift: boolean }): void {
  const sign = { added: '+', changed: '~', removed: '-', unchanged: ' ' } as const;
  const changed = report.changes
    .filter((x) => x.change !== 'unchanged')
    .map((c) => `${sign[c.change]} ${c.name}${c.version ? ` v${c.version}` : ''}${c.details ? `: ${c.details.join(', ')}` : ''}`);
  for (const l of capped(changed, 'changes', report.id)) out(l);
  const f = report.fileChanges;
  const fileLine = Object.entries<string[]>({ added: f.added, changed: f.changed, removed: f.removed })
    .filter(([, list]) => list.length)
    .map(([k, list]) => `${k} ${list.slice(0, 5).join(', ')}${list.length > 5 ? ` and ${list.length - 5} more` : ''}`);
  if (fileLine.length && opts.showFileDrift) out(`pack files differ from the catalog: ${fileLine.join('; ')}`);
  const warnings = report.warnings.map((w) => `warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);
  for (const l of capped(warnings, 'warnings', report.id)) out(l);
  for (const l of capped(
    report.unsupported.map((u) => `unsupported: ${u.file}: ${u.reason}`),
    'unsupported files',
    report.id,
  ))
    out(l);
  const s = report.summary;
  out(
    `${report.pack}${opts.verb}: ${s.added} added, ${s.changed} changed, ${s.unchanged} unchanged, ${s.removed} removed, ${s.warnings} warnings${s.unsupported ? `, ${s.unsupported} unsupported` : ''} (${report.files} files${report.packVersion ? `, pack version ${report.packVersion.version}` : ''})`,
  );
}
