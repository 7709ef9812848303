/** stackwire execution get | logs | list | cancel, and the helpers `run` shares: waiting, following logs, printing. */
import type { Command } from 'commander';
import type { ExecutionRecord, ExecutionView, LogEntry } from '../../common/api-types.js';
import { isTerminal } from '../../common/constants.js';
import type { ApiClient } from '../api-client.js';
import { ExitError, client, out, printJson, table } from '../shared.js';

function exitCodeNote(e: Partial<ExecutionRecord>): string {
  return e.exitCode !== undefined && e.exitCode !== null ? ` (exit code ${e.exitCode})` : '';
}

export function printExecution(e: ExecutionView | ExecutionRecord): void {
  if ('kind' in e && e.kind === 'multi-region') {
    out(`${e.id}  ${e.status}`);
    for (const c of e.children) printExecution(c);
    return;
  }
  const r: Partial<ExecutionRecord> & { id: string; status: string } = e;
  out(`execution ${r.id}: ${r.status}${exitCodeNote(r)}`);
  if (r.action) out(`  action:   ${r.action}${r.region ? ` on ${r.region}` : ''}${r.worker ? ` by ${r.worker}` : ''}`);
  if (r.durationMs !== undefined && r.durationMs !== null) out(`  duration: ${r.durationMs} ms`);
  if (r.error) out(`  error:    ${r.error}`);
  if (r.stdout) out(`--- stdout ---\n${r.stdout}`);
  if (r.stderr) out(`--- stderr ---\n${r.stderr}`);
}

/** The one-line summary after streamed output. */
export function printSummary(e: ExecutionView): void {
  const r: Partial<ExecutionRecord> & { id: string; status: string } = e.kind === 'multi-region' ? { id: e.id, status: e.status } : e;
  out(
    `execution ${r.id}: ${r.status}${exitCodeNote(r)}${r.durationMs !== undefined && r.durationMs !== null ? ` in ${r.durationMs} ms` : ''}${r.worker ? ` on ${r.worker}` : ''}`,
  );
  if (r.error && r.status !== 'succeeded') out(`  error: ${r.error}`);
}

export function exitFor(e: ExecutionView): number {
  return e.status === 'succeeded' ? 0 : 1;
}

/** Polls (long-polling on the API side) until the execution has ended; a spinner on a terminal. */
export async function waitFor(api: ApiClient, id: string, label: string, quiet: boolean): Promise<ExecutionView> {
  const started = Date.now();
  const tty = process.stderr.isTTY && !quiet;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let frame = 0;
  const spin = tty
    ? setInterval(() => process.stderr.write(`\r${frames[frame++ % frames.length]} ${label} ${((Date.now() - started) / 1000).toFixed(0)}s`), 100)
    : undefined;
  try {
    for (;;) {
      const e = await api.getExecution(id, 20);
      if (isTerminal(e.status)) return e;
    }
  } finally {
    if (spin) {
      clearInterval(spin);
      process.stderr.write('\r\x1b[K');
    }
  }
}

/** Prints an execution's output as it is produced; returns when the execution has ended. */
export async function streamLogs(api: ApiClient, id: string, follow: boolean): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await api.executionLogs(id, after, follow ? 20 : 0);
    for (const e of page.entries) (e.stream === 'stdout' ? process.stdout : process.stderr).write(e.data);
    after = page.next;
    if (page.done || (!follow && page.entries.length === 0)) return;
  }
}

export function registerExecutionCommands(program: Command): void {
  const execution = program.command('execution').description('inspect and control executions');
  execution
    .command('get')
    .description('show one execution: status, exit code, output, timings')
    .argument('<id>')
    .option('--wait', 'wait until it has finished')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const e = opts.wait ? await waitFor(api, id, id, Boolean(opts.json)) : await api.getExecution(id);
      if (opts.json) printJson(e);
      else printExecution(e);
    });
  execution
    .command('logs')
    .description("an execution's output, as it was produced (stdout to stdout, stderr to stderr)")
    .argument('<id>')
    .option('-f, --follow', 'keep printing new output until the execution ends')
    .option('--json', 'print the log entries as JSON')
    .action(async (id: string, opts: { follow?: boolean; json?: boolean }, cmd: Command) => {
      const api = client(cmd);
      if (opts.json) {
        const all: LogEntry[] = [];
        let after = 0;
        for (;;) {
          const page = await api.executionLogs(id, after, opts.follow ? 20 : 0);
          all.push(...page.entries);
          after = page.next;
          if (page.done || (!opts.follow && page.entries.length === 0)) break;
        }
        return printJson(all);
      }
      await streamLogs(api, id, Boolean(opts.follow));
    });
  execution
    .command('list')
    .description('list recent executions')
    .option('--action <name>', 'only this action')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print as JSON')
    .action(async (opts: { action?: string; limit: string; json?: boolean }, cmd: Command) => {
      const { executions } = await client(cmd).listExecutions({ limit: opts.limit, ...(opts.action ? { action: opts.action } : {}) });
      if (opts.json) return printJson(executions);
      if (!executions.length) return out('no executions yet');
      out(
        table([
          ['ID', 'ACTION', 'REGION', 'STATUS', 'EXIT', 'STARTED'],
          ...executions.map((e) => [e.id, e.action ?? '', e.region ?? '', e.status, String(e.exitCode ?? ''), e.startedAt ?? '']),
        ]),
      );
    });
  execution
    .command('cancel')
    .description('cancel a running execution (its process group is killed)')
    .argument('<id>')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).cancelExecution(id);
      out(opts.json ? JSON.stringify(r, null, 2) : `${r.id}: ${r.status}`);
    });
  execution
    .command('resolve')
    .description(
      'decide a run whose worker was lost (status lost): run it again, or mark it succeeded or failed after checking by hand; recorded with you as the actor',
    )
    .argument('<id>')
    .argument('<decision>', 'retry, succeeded or failed')
    .option('--reason <text>', 'why (kept with the decision)')
    .option('--json', 'print as JSON')
    .action(async (id: string, decision: string, opts: { reason?: string; json?: boolean }, cmd: Command) => {
      if (decision !== 'retry' && decision !== 'succeeded' && decision !== 'failed') throw new ExitError(2, `${decision}: decide retry, succeeded or failed.`);
      const r = await client(cmd).resolveExecution(id, decision, opts.reason);
      out(opts.json ? JSON.stringify(r, null, 2) : `${r.id}: ${r.decision === 'retry' ? 'running again' : `marked ${r.decision}`} (decided by ${r.decidedBy})`);
    });
}
