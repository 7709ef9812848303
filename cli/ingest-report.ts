/**
 * Reading an ingest's report through the API: wait for its end, read its items a page at a time,
 * assemble the whole report (`--json`) and print it for people (long lists cut, with the command that
 * shows the rest).
 */
import type { ActionChange, IngestResponse } from '../common/api-types.js';
import type { IngestItem, IngestItemKind, IngestView } from '../common/api-types-ingest.js';
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

/** Every item of a report (or of one kind), a page at a time; `enough` stops early. */
export async function readItems(
  api: ApiClient,
  id: string,
  o: { kind?: IngestItemKind; enough?: (items: IngestItem[]) => boolean } = {},
): Promise<IngestItem[]> {
  const items: IngestItem[] = [];
  let after = 0;
  for (;;) {
    const page = await api.ingestItems(id, { after, limit: PAGE, ...(o.kind ? { kind: o.kind } : {}) });
    items.push(...page.items);
    if (page.next === null || o.enough?.(items)) return items;
    after = page.next;
  }
}

/**
 * What the text output shows, read without the rest: the first SHOWN changed actions (pages stop
 * there), every warning and unsupported file, and the changed pack files when they are shown. An
 * unchanged re-ingest of 20,000 scripts reads no action at all.
 */
export async function readShownItems(api: ApiClient, view: IngestView, showFileDrift: boolean): Promise<IngestItem[]> {
  const s = view.summary;
  const changed = (items: IngestItem[]) => items.filter((i) => i.kind === 'action' && i.change !== 'unchanged').length;
  const actions = s && s.added + s.changed + s.removed > 0 ? await readItems(api, view.id, { kind: 'action', enough: (i) => changed(i) > SHOWN }) : [];
  const warnings = view.items.warning ? await readItems(api, view.id, { kind: 'warning' }) : [];
  const unsupported = view.items.unsupported ? await readItems(api, view.id, { kind: 'unsupported' }) : [];
  const files = showFileDrift && view.items.file ? await readItems(api, view.id, { kind: 'file' }) : [];
  return [...actions, ...warnings, ...unsupported, ...files];
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

/** The first SHOWN lines of `total` (the lines may be only the first ones read). */
function capped(lines: string[], total: number, what: string, id: string): string[] {
  if (total <= SHOWN) return lines;
  return [...lines.slice(0, SHOWN), `… and ${total - SHOWN} more ${what} (stackwire pack report ${id} --json lists them all)`];
}

/** The report for people: changed actions, file drift (unless applied), warnings, unsupported files, the summary line. */
export function printReport(report: IngestResponse, opts: { verb: string; showFileDrift: boolean }): void {
  const sign = { added: '+', changed: '~', removed: '-', unchanged: ' ' } as const;
  const changed = report.changes
    .filter((x) => x.change !== 'unchanged')
    .map((c) => `${sign[c.change]} ${c.name}${c.version ? ` v${c.version}` : ''}${c.details ? `: ${c.details.join(', ')}` : ''}`);
  const s = report.summary;
  for (const l of capped(changed, s.added + s.changed + s.removed, 'changes', report.id)) out(l);
  const f = report.fileChanges;
  const fileLine = Object.entries<string[]>({ added: f.added, changed: f.changed, removed: f.removed })
    .filter(([, list]) => list.length)
    .map(([k, list]) => `${k} ${list.slice(0, 5).join(', ')}${list.length > 5 ? ` and ${list.length - 5} more` : ''}`);
  if (fileLine.length && opts.showFileDrift) out(`pack files differ from the catalog: ${fileLine.join('; ')}`);
  const warnings = report.warnings.map((w) => `warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);
  for (const l of capped(warnings, warnings.length, 'warnings', report.id)) out(l);
  const unsupported = report.unsupported.map((u) => `unsupported: ${u.file}: ${u.reason}`);
  for (const l of capped(unsupported, unsupported.length, 'unsupported files', report.id)) out(l);
  if (s.parameters !== undefined)
    out(
      `parameters: ${s.parameters} inferred from scripts, ${s.toReview ?? 0} to review (their warnings say why)${s.freeForm ? `; ${s.freeForm} action(s) take free-form arguments (nothing could be inferred)` : ''}`,
    );
  out(
    `${report.pack}${opts.verb}: ${s.added} added, ${s.changed} changed, ${s.unchanged} unchanged, ${s.removed} removed, ${s.warnings} warnings${s.unsupported ? `, ${s.unsupported} unsupported` : ''} (${report.files} files${report.packVersion ? `, pack version ${report.packVersion.version}` : ''})`,
  );
}
