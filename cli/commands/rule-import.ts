/**
 * stackwire rule import: StackStorm rule files as Stackwire rule files (lib/st2-rules.ts), to review and
 * then apply (`stackwire rule apply`): a rule acts with the authority of who applies it, so nothing is
 * applied here.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { convertSt2RuleFile, type St2RuleResult } from '../../lib/st2-rules.js';
import { ExitError, err, out, printJson } from '../shared.js';
import { yamlFiles } from './pipeline.js';

export function registerRuleImportCommand(rule: Command): void {
  rule
    .command('import')
    .description(
      "convert StackStorm rule files (a pack's rules/) to Stackwire rules and write them to --out (or print them); apply them with `stackwire rule apply`. Exit 0 all converted, 1 some could not be (each reason listed), 2 unreadable input",
    )
    .argument('<files-or-folders...>', 'StackStorm rule files (.yaml) or folders holding them, e.g. ./stackstorm-mypack/rules')
    .option('--out <folder>', 'write each converted rule to <folder>/<name>.yml (created if missing)')
    .option(
      '--sensor <type=name...>',
      "a StackStorm sensor's trigger type and the Stackwire sensor that runs it (its events are sensor.<name>), e.g. --sensor mypack.disk_full=disk",
    )
    .option('--json', 'print {converted: [{file, name, content}], skipped: [{file, name, reasons}]}')
    .action((targets: string[], opts: { out?: string; json?: boolean; sensor?: string[] }) => {
      const sensors: Record<string, string> = {};
      for (const pair of opts.sensor ?? []) {
        const m = /^([A-Za-z0-9_.-]+)=([a-z0-9][a-z0-9-]{0,62})$/.exec(pair);
        if (!m) throw new ExitError(2, `--sensor ${JSON.stringify(pair)} must be <trigger type>=<sensor name>, e.g. mypack.disk_full=disk`);
        sensors[m[1]] = m[2];
      }
      const files = yamlFiles(targets, 'rule');
      const converted: (St2RuleResult & { file: string; written?: string })[] = [];
      const skipped: (St2RuleResult & { file: string })[] = [];
      for (const f of files) for (const r of convertSt2RuleFile(f.content, f.path, sensors)) (r.content ? converted : skipped).push({ ...r, file: f.path });
      const names = new Map<string, string>();
      for (const c of converted) {
        if (names.has(c.name)) throw new ExitError(2, `${c.file} and ${names.get(c.name)} both give the rule ${c.name}; rename one`);
        names.set(c.name, c.file);
      }
      if (opts.out) {
        try {
          fs.mkdirSync(opts.out, { recursive: true });
          for (const c of converted) {
            c.written = path.join(opts.out, `${c.name}.yml`);
            fs.writeFileSync(
              c.written,
              `# Converted by 'stackwire rule import' from ${c.file}; review it, then: stackwire rule apply ${opts.out}\n${c.content}`,
            );
          }
        } catch (e) {
          throw new ExitError(2, `cannot write to ${opts.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      if (opts.json) printJson({ converted, skipped });
      else {
        if (!opts.out) out(converted.map((c) => `# from ${c.file}\n${c.content}`).join('---\n'));
        for (const c of converted) err(`converted ${c.file} → ${c.written ?? 'stdout'} (${c.name})`);
        for (const s of skipped) err(`not converted: ${s.file} (${s.name}):\n  - ${s.reasons.join('\n  - ')}`);
        err(
          `${converted.length} converted, ${skipped.length} not${converted.length && opts.out ? `; review them, then: stackwire rule apply ${opts.out}` : ''}`,
        );
      }
      process.exitCode = skipped.length ? 1 : 0;
    });
}
