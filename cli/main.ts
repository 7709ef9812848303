/**
 * stackwire — the command line. A client of the HTTP API, never a second implementation.
 * Exit codes: 0 success, 1 the run (or request) failed, 2 bad input (nothing was started).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import YAML from 'yaml';
import { isTerminal } from '../common/constants.js';
import { displayArgv } from '../common/argv.js';
import { ParameterError, coerceFromStrings } from '../common/parameters.js';
import type { ActionSpec } from '../common/types.js';
import { ConfigError, loadConfig } from '../lib/config.js';
import { ApiClient, ApiRequestError, ApiUnreachableError } from './api-client.js';
import { ingestCommand } from './ingest.js';

interface ComponentView {
  name: string;
  repository: string;
  platform: string;
  owner: string;
  puppetRole: string | null;
  hiera: Record<string, unknown>;
  checks: { name: string; command: string; timeout: number }[];
  deployParams: Record<string, unknown>;
  dependsOn: string[];
  placements: Record<string, string[]>;
}

interface Execution {
  id: string;
  kind?: string;
  status: string;
  action?: string;
  region?: string;
  exitCode?: number | null;
  stdout?: string;
  stderr?: string;
  error?: string | null;
  worker?: string | null;
  durationMs?: number | null;
  children?: Execution[];
  [k: string]: unknown;
}

class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string): void => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

function client(cmd: Command): ApiClient {
  const opts = cmd.optsWithGlobals<{ api?: string; actor?: string }>();
  const config = loadConfig();
  return new ApiClient((opts.api ?? config.api.url).replace(/\/+$/, ''), { 'x-stackwire-actor': opts.actor ?? config.actor, 'x-stackwire-trigger': 'cli' });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function printExecution(e: Execution): void {
  if (e.kind === 'multi-region') {
    out(`${e.id}  ${e.status}`);
    for (const c of e.children ?? []) printExecution(c);
    return;
  }
  out(`execution ${e.id}: ${e.status}${e.exitCode !== undefined && e.exitCode !== null ? ` (exit code ${e.exitCode})` : ''}`);
  if (e.action) out(`  action:   ${e.action}${e.region ? ` on ${e.region}` : ''}${e.worker ? ` by ${e.worker}` : ''}`);
  if (e.durationMs !== undefined && e.durationMs !== null) out(`  duration: ${e.durationMs} ms`);
  if (e.error) out(`  error:    ${e.error}`);
  if (e.stdout) out(`--- stdout ---\n${e.stdout}`);
  if (e.stderr) out(`--- stderr ---\n${e.stderr}`);
}

async function waitFor(api: ApiClient, id: string, label: string, quiet: boolean): Promise<Execution> {
  const started = Date.now();
  const tty = process.stderr.isTTY && !quiet;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let frame = 0;
  const spin = tty
    ? setInterval(() => process.stderr.write(`\r${frames[frame++ % frames.length]} ${label} ${((Date.now() - started) / 1000).toFixed(0)}s`), 100)
    : undefined;
  try {
    for (;;) {
      const e = await api.request<Execution>('GET', `/api/v1/executions/${encodeURIComponent(id)}?wait=20`);
      if (isTerminal(e.status)) return e;
    }
  } finally {
    if (spin) {
      clearInterval(spin);
      process.stderr.write('\r\x1b[K');
    }
  }
}

interface LogPage {
  entries: { seq: number; stream: 'stdout' | 'stderr' | 'system'; data: string }[];
  next: number;
  done: boolean;
  status: string;
}

/** Prints an execution's output as it is produced; returns when the execution has ended. */
async function streamLogs(api: ApiClient, id: string, follow: boolean): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await api.request<LogPage>('GET', `/api/v1/executions/${encodeURIComponent(id)}/logs?after=${after}&wait=${follow ? 20 : 0}`);
    for (const e of page.entries) (e.stream === 'stdout' ? process.stdout : process.stderr).write(e.data);
    after = page.next;
    if (page.done || (!follow && page.entries.length === 0)) return;
  }
}

function printSummary(e: Execution): void {
  out(
    `execution ${e.id}: ${e.status}${e.exitCode !== undefined && e.exitCode !== null ? ` (exit code ${e.exitCode})` : ''}${e.durationMs !== undefined && e.durationMs !== null ? ` in ${e.durationMs} ms` : ''}${e.worker ? ` on ${e.worker}` : ''}`,
  );
  if (e.error && e.status !== 'succeeded') out(`  error: ${e.error}`);
}

function exitFor(e: Execution): number {
  return e.status === 'succeeded' ? 0 : 1;
}

export function buildProgram(): Command {
  const program = new Command('stackwire')
    .description('Stackwire: run ops scripts as durable, observable actions on Temporal.')
    .option('--api <url>', 'API base URL (default: STACKWIRE_API_URL or http://127.0.0.1:7380)')
    .option('--actor <name>', 'who is acting (recorded with every run)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run an action and wait for its result')
    .argument('<action>', 'action name, e.g. ops.disk_report')
    .argument('[parameters...]', 'parameters as key=value (arrays: k=a,b or k=\'["a","b"]\')')
    .option('--region <region>', "region whose workers run it (default: the action's region or the first configured)")
    .option('--regions <list>', 'run in several regions at once, comma-separated')
    .option('--no-wait', 'print the execution id and return at once')
    .option('--dry-run', 'check the parameters and print the exact command line; run nothing')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        actionName: string,
        pairs: string[],
        opts: { region?: string; regions?: string; wait: boolean; json?: boolean; dryRun?: boolean },
        cmd: Command,
      ) => {
        const api = client(cmd);
        let action: ActionSpec;
        try {
          action = await api.request<ActionSpec>('GET', `/api/v1/actions/${encodeURIComponent(actionName)}`);
        } catch (e) {
          if (e instanceof ApiRequestError && e.status === 404) throw new ExitError(2, `${e.message}\nTry 'stackwire action list'.`);
          throw e;
        }
        let parameters: Record<string, unknown>;
        try {
          parameters = coerceFromStrings(action, pairs);
        } catch (e) {
          if (e instanceof ParameterError) throw new ExitError(2, e.message);
          throw e;
        }
        const body = {
          action: actionName,
          parameters,
          ...(opts.region ? { region: opts.region } : {}),
          ...(opts.regions ? { regions: opts.regions.split(',').map((r) => r.trim()) } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
        };
        let started: { id: string; regions: string[]; command: string };
        try {
          started = await api.request('POST', '/api/v1/executions', body);
        } catch (e) {
          if (e instanceof ApiRequestError && e.status === 400) throw new ExitError(2, e.message);
          throw e;
        }
        if (opts.dryRun) {
          const dry = started as unknown as { argv: string[]; command: string };
          out(opts.json ? JSON.stringify(dry, null, 2) : dry.command);
          return;
        }
        if (!opts.wait) {
          if (opts.json) out(JSON.stringify(started, null, 2));
          else out(started.id);
          return;
        }
        if (!opts.json) err(`started ${started.id}: ${started.command} on ${started.regions.join(', ')}`);
        if (!opts.json && !opts.regions) {
          // Live output, then a one-line summary.
          await streamLogs(api, started.id, true);
          const result = await waitFor(api, started.id, actionName, true);
          printSummary(result);
          process.exitCode = exitFor(result);
          return;
        }
        const result = await waitFor(api, started.id, `${actionName} on ${started.regions.join(', ')}`, Boolean(opts.json));
        if (opts.json) out(JSON.stringify(result, null, 2));
        else printExecution(result);
        process.exitCode = exitFor(result);
      },
    );

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
    .action(
      async (source: string, opts: { pack?: string; dryRun?: boolean; check?: boolean; region?: string; write: boolean; json?: boolean }, cmd: Command) => {
        process.exitCode = await ingestCommand(client(cmd), source, opts, out, err);
      },
    );

  program
    .command('pack')
    .description('packs in the catalog')
    .command('list')
    .description('list packs with their version, source and action count')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { packs } = await client(cmd).request<{
        packs: { name: string; version: number; actions: number; source: { kind?: string; location?: string; url?: string } }[];
      }>('GET', '/api/v1/packs');
      if (opts.json) return out(JSON.stringify(packs, null, 2));
      if (!packs.length) return out('no packs yet');
      out(
        table([
          ['PACK', 'VERSION', 'ACTIONS', 'SOURCE'],
          ...packs.map((p) => [p.name, String(p.version), String(p.actions), `${p.source.kind ?? ''} ${p.source.url ?? p.source.location ?? ''}`.trim()]),
        ]),
      );
    });

  const sot = program.command('sot').description('the source of truth: environments, regions, components, dependencies');
  sot
    .command('apply')
    .description('validate YAML definitions (a file or a folder of *.yaml), then apply them in one transaction and print the diff')
    .argument('<path>', 'a YAML file or a folder of them')
    .option('--dry-run', 'validate and show the diff; change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (target: string, opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const abs = path.resolve(target);
      if (!fs.existsSync(abs)) throw new ExitError(2, `${abs} does not exist. Give a YAML file or a folder of them.`);
      const paths = fs.statSync(abs).isDirectory()
        ? fs
            .readdirSync(abs, { recursive: true, encoding: 'utf8' })
            .filter((f) => /\.ya?ml$/.test(f))
            .sort()
            .map((f) => path.join(abs, f))
        : [abs];
      if (paths.length === 0) throw new ExitError(2, `${abs} holds no .yaml files.`);
      const files = paths.map((p) => ({ path: path.relative(process.cwd(), p) || p, content: fs.readFileSync(p, 'utf8') }));
      let r: { dryRun: boolean; changes: { kind: string; name: string; change: string; details?: string[] }[]; summary: Record<string, number> };
      try {
        r = await client(cmd).request('POST', '/api/v1/sot/apply', { files, dryRun: Boolean(opts.dryRun) });
      } catch (e) {
        if (e instanceof ApiRequestError && e.code === 'invalid_definitions') throw new ExitError(2, e.message);
        throw e;
      }
      if (opts.json) return out(JSON.stringify(r, null, 2));
      for (const c of r.changes)
        out(`${{ added: '+', changed: '~', removed: '-' }[c.change] ?? ' '} ${c.kind} ${c.name}${c.details ? `: ${c.details.join(', ')}` : ''}`);
      const s = r.summary;
      out(
        `${r.dryRun ? 'dry run, nothing changed: ' : ''}${s.components} components, ${s.environments} environments, ${s.regions} regions; ${s.added} added, ${s.changed} changed, ${s.removed} removed`,
      );
    });

  const component = program.command('component').description('components in the source of truth');
  component
    .command('list')
    .description('list components')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { components } = await client(cmd).request<{ components: ComponentView[] }>('GET', '/api/v1/components');
      if (opts.json) return out(JSON.stringify(components, null, 2));
      if (!components.length) return out("no components yet; load some with 'stackwire sot apply <file>'");
      out(
        table([
          ['COMPONENT', 'PLATFORM', 'OWNER', 'DEPENDS ON', 'PLACEMENTS'],
          ...components.map((c) => [
            c.name,
            c.platform,
            c.owner,
            c.dependsOn.join(',') || '-',
            Object.entries(c.placements)
              .map(([e, rs]) => `${e}:${rs.join('+')}`)
              .join(' '),
          ]),
        ]),
      );
    });
  component
    .command('show')
    .description('one component: repository, platform, Puppet role, Hiera data, checks, deploy parameters, placements')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const c = await client(cmd).request<ComponentView>('GET', `/api/v1/components/${encodeURIComponent(name)}`);
      if (opts.json) return out(JSON.stringify(c, null, 2));
      out(
        `${c.name} (${c.platform}, owner ${c.owner || '-'})\n  repository:  ${c.repository}\n  puppet role: ${c.puppetRole ?? '-'}\n  depends on:  ${c.dependsOn.join(', ') || '-'}`,
      );
      for (const [e, rs] of Object.entries(c.placements)) out(`  ${e}: ${rs.join(', ')}`);
      for (const ch of c.checks) out(`  check ${ch.name}: ${ch.command} (timeout ${ch.timeout}s)`);
      if (Object.keys(c.hiera).length) out(`  hiera: ${JSON.stringify(c.hiera)}`);
      if (Object.keys(c.deployParams).length) out(`  deploy parameters: ${JSON.stringify(c.deployParams)}`);
    });
  component
    .command('deps')
    .description('what a component depends on (or, with --reverse, what depends on it), directly and transitively')
    .argument('<name>')
    .option('--reverse', 'what depends on it')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { reverse?: boolean; json?: boolean }, cmd: Command) => {
      const d = await client(cmd).request<{ direct: string[]; transitive: string[] }>(
        'GET',
        `/api/v1/components/${encodeURIComponent(name)}/deps${opts.reverse ? '?reverse=true' : ''}`,
      );
      if (opts.json) return out(JSON.stringify(d, null, 2));
      out(`${name} ${opts.reverse ? 'is needed by' : 'needs'}: ${d.direct.join(', ') || '(nothing)'}`);
      out(`transitively: ${d.transitive.join(', ') || '(nothing)'}`);
    });

  program
    .command('deploy')
    .description('deploy a component version to an environment: regions in waves (canary first), puppet apply, health checks, rollback on failure')
    .argument('<component>')
    .argument('<version>')
    .requiredOption('--env <environment>', 'environment, e.g. production')
    .option('--regions <list>', 'comma-separated regions (default: every region the component runs in)')
    .option('--canary <region>', 'the first wave (default: the first region)')
    .option('--approval <seconds>', 'wait for an approval between the canary and the rest, failing after this many seconds')
    .option('--plan', 'print the waves and the version changes; start nothing')
    .option('--no-wait', 'print the deployment id and return at once')
    .option('--json', 'print as JSON')
    .action(
      async (
        componentName: string,
        version: string,
        opts: { env: string; regions?: string; canary?: string; approval?: string; plan?: boolean; wait: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const api = client(cmd);
        const body = {
          component: componentName,
          version,
          environment: opts.env,
          ...(opts.regions ? { regions: opts.regions.split(',').map((r) => r.trim()) } : {}),
          ...(opts.canary ? { canary: opts.canary } : {}),
          ...(opts.approval ? { approvalTimeoutSeconds: Number(opts.approval) } : {}),
          ...(opts.plan ? { plan: true } : {}),
        };
        let r: {
          id?: string;
          waves: string[][];
          changes: { region: string; from: string | null; to: string }[];
          puppetRole?: string;
          checks?: string[];
          puppetNoop?: Record<string, { outOfSync: number; total: number } | { error: string }>;
        };
        try {
          r = await api.request('POST', '/api/v1/deployments', body);
        } catch (e) {
          if (e instanceof ApiRequestError && [400, 404].includes(e.status)) throw new ExitError(2, e.message);
          throw e;
        }
        if (opts.plan || !opts.wait) {
          if (opts.json) return out(JSON.stringify(r, null, 2));
          r.waves.forEach((w, i) => out(`wave ${i + 1}: ${w.join(', ')}`));
          for (const c of r.changes) {
            const noop = r.puppetNoop?.[c.region];
            const puppet = noop
              ? 'error' in noop
                ? `puppet noop failed: ${noop.error}`
                : `puppet noop: ${noop.outOfSync} of ${noop.total} resources would change`
              : '';
            out(`  ${c.region}: ${c.from ?? '(none)'} → ${c.to}${puppet ? `; ${puppet}` : ''}`);
          }
          if (r.id) out(`started ${r.id}`);
          return;
        }
        if (!opts.json) err(`started ${r.id!}: waves ${r.waves.map((w) => w.join('+')).join(' → ')}`);
        for (;;) {
          const d = await api.request<{
            status: string;
            detail: { phase?: string } | null;
            error: string | null;
            records: { region: string; kind: string; version: string; status: string }[];
          }>('GET', `/api/v1/deployments/${encodeURIComponent(r.id!)}`);
          if (d.status !== 'running') {
            if (opts.json) out(JSON.stringify(d, null, 2));
            else {
              out(`${r.id!}: ${d.status}${d.error ? `: ${d.error}` : ''}`);
            }
            process.exitCode = d.status === 'completed' ? 0 : 1;
            return;
          }
          if (process.stderr.isTTY && d.detail?.phase) process.stderr.write(`\r\x1b[K${d.detail.phase}`);
          await new Promise((res) => setTimeout(res, 1000));
        }
      },
    );

  program
    .command('release')
    .description('deploy several components in dependency order (dependencies first, independent ones in parallel)')
    .argument('[file-or-pairs...]', 'a YAML file {components: {name: version}}, or name=version pairs')
    .requiredOption('--env <environment>', 'environment')
    .option('--since <tag>', "instead: every component of the environment whose repository has commits since this tag (version: 'git describe' of its HEAD)")
    .option('--plan', 'print the ordered waves; start nothing')
    .option('--max-parallel <n>', 'components deployed at once within a wave', '4')
    .option('--json', 'print as JSON')
    .action(async (args: string[], opts: { env: string; since?: string; plan?: boolean; maxParallel: string; json?: boolean }, cmd: Command) => {
      let components: Record<string, string> | undefined;
      if (opts.since) {
        if (args.length) throw new ExitError(2, 'give either --since <tag> or components, not both.');
      } else if (args.length === 0) {
        throw new ExitError(2, 'name the components (a YAML file or name=version pairs), or use --since <tag>.');
      } else if (args.length === 1 && /\.ya?ml$/.test(args[0])) {
        const doc = YAML.parse(fs.readFileSync(args[0], 'utf8')) as { components?: Record<string, string> } | null;
        if (!doc?.components || typeof doc.components !== 'object') throw new ExitError(2, `${args[0]} must hold {components: {name: version, …}}.`);
        components = Object.fromEntries(Object.entries(doc.components).map(([k, v]) => [k, String(v)]));
      } else {
        components = {};
        for (const a of args) {
          const [k, v] = a.split('=');
          if (!k || !v) throw new ExitError(2, `${a} is not component=version.`);
          components[k] = v;
        }
      }
      let r: {
        id?: string;
        waves: string[][];
        versions?: Record<string, string>;
        changes?: Record<string, { region: string; from: string | null; to: string }[]>;
        unchanged?: string[];
        warnings?: string[];
        puppetNoop?: Record<string, Record<string, { outOfSync?: number; total?: number; error?: string }>>;
      };
      try {
        r = await client(cmd).request('POST', '/api/v1/releases', {
          environment: opts.env,
          ...(components ? { components } : { sinceTag: opts.since }),
          plan: Boolean(opts.plan),
          maxParallel: Number(opts.maxParallel),
        });
      } catch (e) {
        if (e instanceof ApiRequestError && [400, 404].includes(e.status)) throw new ExitError(2, e.message);
        throw e;
      }
      if (opts.json) return out(JSON.stringify(r, null, 2));
      r.waves.forEach((w, i) => out(`wave ${i + 1}: ${w.map((c) => (opts.since && r.versions?.[c] ? `${c}@${r.versions[c]}` : c)).join(', ')}`));
      for (const [c, regions] of Object.entries(r.puppetNoop ?? {})) {
        for (const [region, n] of Object.entries(regions)) {
          const change = r.changes?.[c]?.find((x) => x.region === region);
          const version = change ? `${change.from ?? '(none)'} → ${change.to}; ` : '';
          out(`  ${c} ${region}: ${version}${n.error ? `puppet noop failed: ${n.error}` : `puppet noop: ${n.outOfSync} of ${n.total} resources would change`}`);
        }
      }
      if (opts.since) out(`unchanged since ${opts.since}: ${r.unchanged?.join(', ') || '(none)'}`);
      for (const w of r.warnings ?? []) out(`warning: ${w}`);
      if (r.id) out(`started ${r.id}`);
      else if (!r.waves.length) out('nothing to release');
    });

  const deployment = program.command('deployment').description('deployment history and approval gates');
  deployment
    .command('list')
    .description('deployment records from Postgres')
    .option('--component <name>')
    .option('--env <environment>')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print as JSON')
    .action(async (opts: { component?: string; env?: string; limit: string; json?: boolean }, cmd: Command) => {
      const q = new URLSearchParams({
        limit: opts.limit,
        ...(opts.component ? { component: opts.component } : {}),
        ...(opts.env ? { environment: opts.env } : {}),
      });
      const { deployments } = await client(cmd).request<{
        deployments: {
          component: string;
          version: string;
          environment: string;
          region: string;
          kind: string;
          status: string;
          actor: string;
          startedAt: string;
          reason: string | null;
        }[];
      }>('GET', `/api/v1/deployments?${q.toString()}`);
      if (opts.json) return out(JSON.stringify(deployments, null, 2));
      if (!deployments.length) return out('no deployments yet');
      out(
        table([
          ['COMPONENT', 'VERSION', 'ENV', 'REGION', 'KIND', 'STATUS', 'ACTOR', 'STARTED'],
          ...deployments.map((d) => [d.component, d.version, d.environment, d.region, d.kind, d.status, d.actor, d.startedAt]),
        ]),
      );
    });
  deployment
    .command('get')
    .description('one deployment: its state, waves, result or error, and region records')
    .argument('<id>')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const d = await client(cmd).request<{ status: string; error: string | null; records: unknown[] }>('GET', `/api/v1/deployments/${encodeURIComponent(id)}`);
      out(opts.json ? JSON.stringify(d, null, 2) : `${id}: ${d.status}${d.error ? `: ${d.error}` : ''} (${d.records.length} region records)`);
    });
  for (const verdict of ['approve', 'reject'] as const) {
    deployment
      .command(verdict)
      .description(`${verdict} a deployment waiting at its approval gate (recorded with --actor)`)
      .argument('<id>')
      .option('--reason <text>', 'why (recorded)')
      .option('--json', 'print as JSON')
      .action(async (id: string, opts: { reason?: string; json?: boolean }, cmd: Command) => {
        const r = await client(cmd).request<Record<string, string>>(
          'POST',
          `/api/v1/deployments/${encodeURIComponent(id)}/${verdict}`,
          opts.reason ? { reason: opts.reason } : {},
        );
        out(opts.json ? JSON.stringify(r, null, 2) : `${id}: ${verdict === 'approve' ? `approved by ${r.approvedBy}` : `rejected by ${r.rejectedBy}`}`);
      });
  }

  const execution = program.command('execution').description('inspect and control executions');
  execution
    .command('get')
    .description('show one execution: status, exit code, output, timings')
    .argument('<id>')
    .option('--wait', 'wait until it has finished')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const e = opts.wait
        ? await waitFor(api, id, id, Boolean(opts.json))
        : await api.request<Execution>('GET', `/api/v1/executions/${encodeURIComponent(id)}`);
      if (opts.json) out(JSON.stringify(e, null, 2));
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
        const all: LogPage['entries'] = [];
        let after = 0;
        for (;;) {
          const page = await api.request<LogPage>('GET', `/api/v1/executions/${encodeURIComponent(id)}/logs?after=${after}&wait=${opts.follow ? 20 : 0}`);
          all.push(...page.entries);
          after = page.next;
          if (page.done || (!opts.follow && page.entries.length === 0)) break;
        }
        return out(JSON.stringify(all, null, 2));
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
      const q = new URLSearchParams({ limit: opts.limit, ...(opts.action ? { action: opts.action } : {}) });
      const { executions } = await client(cmd).request<{ executions: Execution[] }>('GET', `/api/v1/executions?${q.toString()}`);
      if (opts.json) return out(JSON.stringify(executions, null, 2));
      if (!executions.length) return out('no executions yet');
      out(
        table([
          ['ID', 'ACTION', 'REGION', 'STATUS', 'EXIT', 'STARTED'],
          ...executions.map((e) => [
            e.id,
            e.action ?? '',
            e.region ?? '',
            e.status,
            String(e.exitCode ?? ''),
            typeof e.startedAt === 'string' ? e.startedAt : '',
          ]),
        ]),
      );
    });
  execution
    .command('cancel')
    .description('cancel a running execution (its process group is killed)')
    .argument('<id>')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).request<{ id: string; status: string }>('POST', `/api/v1/executions/${encodeURIComponent(id)}/cancel`);
      out(opts.json ? JSON.stringify(r, null, 2) : `${r.id}: ${r.status}`);
    });

  const action = program.command('action').description('browse the action catalog');
  action
    .command('list')
    .description('list actions')
    .option('--pack <pack>', 'only this pack')
    .option('--json', 'print as JSON')
    .action(async (opts: { pack?: string; json?: boolean }, cmd: Command) => {
      const q = opts.pack ? `?pack=${encodeURIComponent(opts.pack)}` : '';
      const { actions } = await client(cmd).request<{ actions: ActionSpec[] }>('GET', `/api/v1/actions${q}`);
      if (opts.json) return out(JSON.stringify(actions, null, 2));
      if (!actions.length) return out('the catalog is empty');
      out(
        table([
          ['NAME', 'VERSION', 'RUNNER', 'DESCRIPTION'],
          ...actions.map((a) => [a.name, String(a.version), a.runner, (a.description.split('\n')[0] ?? '').slice(0, 70)]),
        ]),
      );
    });
  action
    .command('show')
    .description('help for one action: description, parameters, example command line')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      await showAction(client(cmd), name, Boolean(opts.json));
    });
  return program;
}

/** Help for one action (also what `stackwire run <action> -h` prints). */
async function showAction(api: ApiClient, name: string, json: boolean): Promise<void> {
  let a: ActionSpec & { exampleArgv: string[] };
  try {
    a = await api.request<ActionSpec & { exampleArgv: string[] }>('GET', `/api/v1/actions/${encodeURIComponent(name)}`);
  } catch (e) {
    if (e instanceof ApiRequestError && e.status === 404) throw new ExitError(2, `${e.message}\nTry 'stackwire action list'.`);
    throw e;
  }
  if (json) return out(JSON.stringify(a, null, 2));
  out(`${a.name} (version ${a.version}, ${a.runner}: ${a.entryPoint})\n\n${a.description}\n`);
  const props = Object.entries(a.parameters.properties);
  if (props.length) {
    out(
      table([
        ['PARAMETER', 'TYPE', 'REQUIRED', 'DEFAULT', 'CHOICES', 'DESCRIPTION'],
        ...props.map(([p, s]) => [
          p + (s.secret ? ' (secret)' : ''),
          s.type === 'array' ? `array of ${s.items?.type ?? 'string'}` : (s.type ?? 'string'),
          a.parameters.required.includes(p) ? 'yes' : '',
          s.default === undefined ? '' : JSON.stringify(s.default),
          (s.enum ?? s.items?.enum)?.map((v) => String(v)).join('|') ?? '',
          s.description ?? '',
        ]),
      ]),
    );
  } else out('no parameters');
  if (a.parameters.exclusive?.length) out(`\nnot together: ${a.parameters.exclusive.map((g) => g.join(' | ')).join('; ')}`);
  out(
    `\nexample: ${displayArgv(a.exampleArgv)}\ntimeout: ${a.timeoutSeconds}s, attempts: ${a.maxAttempts}${a.region ? `, region: ${a.region}` : ''}${a.sourcePath ? `, source: ${a.sourcePath} (${a.origin ?? 'metadata'})` : ''}`,
  );
  out(`run it:  stackwire run ${a.name}${Object.keys(a.parameters.properties).length ? ' key=value …' : ''}`);
  for (const w of a.warnings ?? []) out(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    // `stackwire run <action> -h` is help for the action, not for `run`.
    const runAt = argv.indexOf('run');
    const actionArg = runAt >= 0 ? argv.slice(runAt + 1).find((a) => !a.startsWith('-')) : undefined;
    if (runAt >= 0 && actionArg && argv.slice(runAt + 1).some((a) => a === '-h' || a === '--help')) {
      const apiAt = argv.indexOf('--api');
      const api = new ApiClient((apiAt >= 0 ? argv[apiAt + 1] : loadConfig().api.url).replace(/\/+$/, ''), {});
      await showAction(api, actionArg, argv.includes('--json'));
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof ExitError) {
      err(`stackwire: ${e.message}`);
      return e.code;
    }
    if (e instanceof ConfigError) {
      err(`stackwire: configuration error: ${e.message}`);
      return 2;
    }
    if (e instanceof ApiUnreachableError) {
      err(`stackwire: ${e.message}`);
      return 1;
    }
    if (e instanceof ApiRequestError) {
      err(`stackwire: ${e.message}`);
      return e.status === 400 || e.status === 404 ? 2 : 1;
    }
    err(`stackwire: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  }
}
