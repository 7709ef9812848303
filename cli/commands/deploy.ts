/** stackwire deploy, release, deployment list | get | approve | reject. */
import fs from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import type { DeployHttpRequest, DeployResponse, DeploymentView, ReleaseResponse } from '../../common/api-types.js';
import { ApiRequestError } from '../api-client.js';
import { ExitError, client, err, out, printJson, table } from '../shared.js';

interface DeployOptions {
  env: string;
  regions?: string;
  canary?: string;
  approval?: string;
  plan?: boolean;
  wait: boolean;
  json?: boolean;
}

/** 400 and 404 of a deploy or release are bad input: exit 2, nothing started. */
function badInputToExit2(e: unknown): never {
  if (e instanceof ApiRequestError && [400, 404].includes(e.status)) throw new ExitError(2, e.message);
  throw e;
}

function phaseOf(d: DeploymentView): string | undefined {
  return d.detail && 'phase' in d.detail && typeof d.detail.phase === 'string' ? d.detail.phase : undefined;
}

function registerDeploy(program: Command): void {
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
    .action(async (componentName: string, version: string, opts: DeployOptions, cmd: Command) => {
      const api = client(cmd);
      const body: DeployHttpRequest = {
        component: componentName,
        version,
        environment: opts.env,
        ...(opts.regions ? { regions: opts.regions.split(',').map((r) => r.trim()) } : {}),
        ...(opts.canary ? { canary: opts.canary } : {}),
        ...(opts.approval ? { approvalTimeoutSeconds: Number(opts.approval) } : {}),
        ...(opts.plan ? { plan: true } : {}),
      };
      let r: DeployResponse;
      try {
        r = await api.deploy(body);
      } catch (e) {
        badInputToExit2(e);
      }
      const id = 'id' in r ? r.id : undefined;
      if (opts.plan || !opts.wait || id === undefined) {
        if (opts.json) return printJson(r);
        r.waves.forEach((w, i) => out(`wave ${i + 1}: ${w.join(', ')}`));
        for (const c of r.changes) {
          const noop = 'puppetNoop' in r ? r.puppetNoop[c.region] : undefined;
          const puppet = noop
            ? 'error' in noop
              ? `puppet noop failed: ${noop.error}`
              : `puppet noop: ${noop.outOfSync} of ${noop.total} resources would change`
            : '';
          out(`  ${c.region}: ${c.from ?? '(none)'} → ${c.to}${puppet ? `; ${puppet}` : ''}`);
          for (const w of 'platformWork' in r ? (r.platformWork[c.region] ?? []) : []) out(`    ${w}`);
        }
        if (id) out(`started ${id}`);
        return;
      }
      if (!opts.json) err(`started ${id}: waves ${r.waves.map((w) => w.join('+')).join(' → ')}`);
      for (;;) {
        const d = await api.getDeployment(id);
        if (d.status !== 'running') {
          if (opts.json) printJson(d);
          else out(`${id}: ${d.status}${d.error ? `: ${d.error}` : ''}`);
          process.exitCode = d.status === 'completed' ? 0 : 1;
          return;
        }
        const phase = phaseOf(d);
        if (process.stderr.isTTY && phase) process.stderr.write(`\r\x1b[K${phase}`);
        await new Promise((res) => setTimeout(res, 1000));
      }
    });
}

/** The components of a release: a YAML file {components: {name: version}} or name=version pairs. */
function releaseComponents(args: string[], since: string | undefined): Record<string, string> | undefined {
  if (since) {
    if (args.length) throw new ExitError(2, 'give either --since <tag> or components, not both.');
    return undefined;
  }
  if (args.length === 0) throw new ExitError(2, 'name the components (a YAML file or name=version pairs), or use --since <tag>.');
  if (args.length === 1 && /\.ya?ml$/.test(args[0])) {
    const doc = YAML.parse(fs.readFileSync(args[0], 'utf8')) as { components?: Record<string, string> } | null;
    if (!doc?.components || typeof doc.components !== 'object') throw new ExitError(2, `${args[0]} must hold {components: {name: version, …}}.`);
    return Object.fromEntries(Object.entries(doc.components).map(([k, v]) => [k, String(v)]));
  }
  const components: Record<string, string> = {};
  for (const a of args) {
    const [k, v] = a.split('=');
    if (!k || !v) throw new ExitError(2, `${a} is not component=version.`);
    components[k] = v;
  }
  return components;
}

function registerRelease(program: Command): void {
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
      const components = releaseComponents(args, opts.since);
      let r: ReleaseResponse;
      try {
        r = await client(cmd).release({
          environment: opts.env,
          ...(components ? { components } : { sinceTag: opts.since }),
          plan: Boolean(opts.plan),
          maxParallel: Number(opts.maxParallel),
        });
      } catch (e) {
        badInputToExit2(e);
      }
      if (opts.json) return printJson(r);
      const versions: Record<string, string> = r.versions;
      r.waves.forEach((w, i) => out(`wave ${i + 1}: ${w.map((c) => (opts.since && versions[c] ? `${c}@${versions[c]}` : c)).join(', ')}`));
      const changes = 'changes' in r ? r.changes : {};
      for (const [c, regions] of Object.entries('puppetNoop' in r ? r.puppetNoop : {})) {
        for (const [region, n] of Object.entries(regions)) {
          const change = changes[c]?.find((x) => x.region === region);
          const version = change ? `${change.from ?? '(none)'} → ${change.to}; ` : '';
          out(
            `  ${c} ${region}: ${version}${'error' in n ? `puppet noop failed: ${n.error}` : `puppet noop: ${n.outOfSync} of ${n.total} resources would change`}`,
          );
        }
      }
      if (opts.since) out(`unchanged since ${opts.since}: ${r.unchanged?.join(', ') || '(none)'}`);
      for (const w of r.warnings ?? []) out(`warning: ${w}`);
      if ('id' in r) out(`started ${r.id}`);
      else if (!r.waves.length) out('nothing to release');
    });
}

function registerDeploymentCommands(program: Command): void {
  const deployment = program.command('deployment').description('deployment history and approval gates');
  deployment
    .command('list')
    .description('deployment records from Postgres')
    .option('--component <name>')
    .option('--env <environment>')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print as JSON')
    .action(async (opts: { component?: string; env?: string; limit: string; json?: boolean }, cmd: Command) => {
      const { deployments } = await client(cmd).listDeployments({
        limit: opts.limit,
        ...(opts.component ? { component: opts.component } : {}),
        ...(opts.env ? { environment: opts.env } : {}),
      });
      if (opts.json) return printJson(deployments);
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
      const d = await client(cmd).getDeployment(id);
      out(opts.json ? JSON.stringify(d, null, 2) : `${id}: ${d.status}${d.error ? `: ${d.error}` : ''} (${d.records.length} region records)`);
    });
  deployment
    .command('approve')
    .description("approve a deployment waiting at its approval gate (recorded as the API key's owner)")
    .argument('<id>')
    .option('--reason <text>', 'why (recorded)')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { reason?: string; json?: boolean }, cmd: Command) => {
      const r = await client(cmd).approve(id, opts.reason ? { reason: opts.reason } : {});
      out(opts.json ? JSON.stringify(r, null, 2) : `${id}: approved by ${r.approvedBy}`);
    });
  deployment
    .command('reject')
    .description("reject a deployment waiting at its approval gate (recorded as the API key's owner)")
    .argument('<id>')
    .option('--reason <text>', 'why (recorded)')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { reason?: string; json?: boolean }, cmd: Command) => {
      const r = await client(cmd).reject(id, opts.reason ? { reason: opts.reason } : {});
      out(opts.json ? JSON.stringify(r, null, 2) : `${id}: rejected by ${r.rejectedBy}`);
    });
}

export function registerDeployCommands(program: Command): void {
  registerDeploy(program);
  registerRelease(program);
  registerDeploymentCommands(program);
}
