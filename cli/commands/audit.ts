/** stackwire audit list | verify: the append-only, hash-chained audit trail. */
import type { Command } from 'commander';
import type { AuditListQuery } from '../../common/api-types.js';
import { ExitError, client, out, parseDuration, printJson, table } from '../shared.js';

/** --since: a date or time (2026-12-01, 2026-12-01T08:00Z) or a duration back from now (24h, 7d, 30m), as ISO 8601. */
export function sinceToIso(since: string, now = Date.now()): string {
  const back = parseDuration(since);
  if (back !== undefined) return new Date(now - back * 1000).toISOString();
  const t = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(since) ? Date.parse(since) : NaN;
  if (Number.isNaN(t))
    throw new ExitError(
      2,
      `--since ${JSON.stringify(since)} is neither a date (2026-12-01, 2026-12-01T08:00:00Z) nor a duration back from now (24h, 7d, 30m).`,
    );
  return new Date(t).toISOString();
}

interface ListOptions {
  actor?: string;
  since?: string;
  action?: string;
  limit?: string;
  json?: boolean;
}

function listQuery(opts: ListOptions): AuditListQuery {
  let limit: number | undefined;
  if (opts.limit !== undefined) {
    limit = Number(opts.limit);
    if (!/^\d+$/.test(opts.limit) || limit < 1) throw new ExitError(2, `--limit ${JSON.stringify(opts.limit)} is not a whole number of rows (1 or more).`);
  }
  return {
    ...(opts.actor ? { actor: opts.actor } : {}),
    ...(opts.since ? { since: sinceToIso(opts.since) } : {}),
    ...(opts.action ? { action: opts.action } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail: every change, approval and key operation, hash-chained');
  audit
    .command('list')
    .description('audit entries, newest first')
    .option('--actor <name>', 'only what this actor did')
    .option('--since <when>', 'only since a date (2026-12-01) or a duration back from now (24h, 7d)')
    .option('--action <action>', 'only this action, e.g. apikey.create')
    .option('--limit <n>', 'how many')
    .option('--json', 'print as JSON')
    .action(async (opts: ListOptions, cmd: Command) => {
      const query = listQuery(opts);
      const { entries } = await client(cmd).listAudit(query);
      if (opts.json) return printJson(entries);
      if (!entries.length) return out('no audit entries');
      out(
        table([
          ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'STATUS'],
          ...entries.map((e) => [String(e.seq), e.at, e.actor ?? '(no key)', e.action, e.target ?? '-', `${e.result} ${e.status}`]),
        ]),
      );
    });
  audit
    .command('verify')
    .description('check the hash chain of the whole trail; exit 1 naming the first row that was altered or removed')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const v = await client(cmd).verifyAudit();
      if (opts.json) printJson(v);
      else if (v.ok) out(`audit chain intact: ${v.checked} rows`);
      else out(`audit chain broken at row ${v.broken?.seq ?? '?'}: ${v.broken?.reason ?? 'no reason given'} (${v.checked} rows checked)`);
      process.exitCode = v.ok ? 0 : 1;
    });
}
