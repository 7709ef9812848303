/** stackwire sot apply, component list | show | deps: the source of truth. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { SotApplyResponse } from '../../common/api-types.js';
import { ApiRequestError } from '../api-client.js';
import { namedEnvValue } from '../../lib/config.js';
import { ExitError, client, out, printJson, table } from '../shared.js';

/** A YAML file, or every *.yaml / *.yml under a folder (sorted), as {path, content}. */
function definitionFiles(target: string): { path: string; content: string }[] {
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
  return paths.map((p) => ({ path: path.relative(process.cwd(), p) || p, content: fs.readFileSync(p, 'utf8') }));
}

export function registerSotCommands(program: Command): void {
  const sot = program.command('sot').description('the source of truth: environments, regions, components, dependencies');
  const secret = sot.command('secret').description('secrets the source of truth refers to as secret:<name> (sealed; never shown)');
  secret
    .command('set')
    .description('set a secret from an environment variable or a file (never from the command line)')
    .argument('<name>', 'the name in secret:<name>')
    .option('--from-env <VAR>', 'read the value from this environment variable')
    .option('--from-file <path>', 'read the value from this file (an SSH key, for instance)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { fromEnv?: string; fromFile?: string; json?: boolean }, cmd: Command) => {
      if (Boolean(opts.fromEnv) === Boolean(opts.fromFile)) throw new ExitError(2, 'give the value with exactly one of --from-env VAR or --from-file PATH');
      let value: string | undefined;
      if (opts.fromEnv) {
        value = namedEnvValue(opts.fromEnv);
        if (value === undefined) throw new ExitError(2, `--from-env ${opts.fromEnv}: the environment variable is not set`);
      } else {
        try {
          value = fs.readFileSync(opts.fromFile!, 'utf8');
        } catch (e) {
          throw new ExitError(2, `--from-file ${opts.fromFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      const r = await client(cmd).setSotSecret(name, value);
      if (opts.json) printJson(r);
      else out(`secret ${name} set (sealed)`);
    });
  secret
    .command('list')
    .description('the secrets set: names, who set each and when; never a value')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).sotSecrets();
      if (opts.json) return printJson(r);
      if (!r.secrets.length) return out('no secrets set');
      out(table([['NAME', 'SET BY', 'UPDATED'], ...r.secrets.map((x) => [x.name, x.setBy ?? '-', x.updatedAt])]));
    });
  secret
    .command('delete')
    .description('delete a secret')
    .argument('<name>', 'the name in secret:<name>')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).deleteSotSecret(name);
      if (opts.json) printJson(r);
      else out(`secret ${name} deleted`);
    });
  sot
    .command('apply')
    .description('validate YAML definitions (a file or a folder of *.yaml), then apply them in one transaction and print the diff')
    .argument('<path>', 'a YAML file or a folder of them')
    .option('--dry-run', 'validate and show the diff; change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (target: string, opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const files = definitionFiles(target);
      let r: SotApplyResponse;
      try {
        r = await client(cmd).applySot({ files, dryRun: Boolean(opts.dryRun) });
      } catch (e) {
        if (e instanceof ApiRequestError && e.code === 'invalid_definitions') throw new ExitError(2, e.message);
        throw e;
      }
      if (opts.json) return printJson(r);
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
      const { components } = await client(cmd).listComponents();
      if (opts.json) return printJson(components);
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
      const c = await client(cmd).getComponent(name);
      if (opts.json) return printJson(c);
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
      const d = await client(cmd).componentDeps(name, Boolean(opts.reverse));
      if (opts.json) return printJson(d);
      out(`${name} ${opts.reverse ? 'is needed by' : 'needs'}: ${d.direct.join(', ') || '(nothing)'}`);
      out(`transitively: ${d.transitive.join(', ') || '(nothing)'}`);
    });
}
