/** stackwire rule apply|list|get|delete: rules kept by the API (versioned), added to the `rule` group. */
import type { Command } from 'commander';
import { client, out, printJson, table } from '../shared.js';
import { yamlFiles } from './pipeline.js';

export function registerRuleManageCommands(rule: Command): void {
  rule
    .command('apply')
    .description('apply rule files (or folders of them): all validated together, nothing applied on any problem; a changed rule becomes a new version; admin')
    .argument('<file-or-folder...>')
    .option('--dry-run', 'say what would change, change nothing')
    .option('--json', 'print as JSON')
    .action(async (targets: string[], opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const r = await client(cmd).applyRules(yamlFiles(targets, 'rule'), opts.dryRun === true);
      if (opts.json) return printJson(r);
      for (const x of r.rules) out(`${r.dryRun ? 'would be ' : ''}${x.outcome}: ${x.name} (version ${x.version})`);
    });
  rule
    .command('list')
    .description('the applied rules')
    .option('--trigger <type>', 'only those for this trigger type')
    .option('--json', 'print as JSON')
    .action(async (opts: { trigger?: string; json?: boolean }, cmd: Command) => {
      const r = await client(cmd).listRules(opts.trigger);
      if (opts.json) return printJson(r);
      if (!r.rules.length) return out('no rules');
      out(
        table([
          ['NAME', 'VERSION', 'TRIGGER', 'ENABLED', 'TARGET', 'APPLIED BY'],
          ...r.rules.map((x) => [x.name, String(x.version), x.trigger, x.enabled ? 'yes' : 'no', x.target, x.appliedBy]),
        ]),
      );
    });
  rule
    .command('get')
    .description('one rule: the file it was applied from, and its versions')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).getRule(name);
      if (opts.json) return printJson(r);
      out(`# ${r.name} version ${r.version}${r.enabled ? '' : ' (disabled)'}, applied by ${r.appliedBy} at ${r.appliedAt} from ${r.file}`);
      out(r.source);
      out(table([['VERSION', 'CHANGE', 'BY', 'AT'], ...r.versions.map((v) => [String(v.version), v.change, v.actor, v.at])]));
    });
  rule
    .command('delete')
    .description('delete a rule (its versions stay on record); admin')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).deleteRule(name);
      if (opts.json) return printJson(r);
      out(`rule ${name} deleted`);
    });
}
