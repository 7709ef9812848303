/**
 * stackwire rule …: rules as code (README: Rules). `validate` checks rule files where they are, against
 * the server's catalog when an API is configured (the actions they name, fetched one by one);
 * `test` matches a rule (a file, or an applied rule by name) against a trigger payload offline.
 * The group is built by registerRuleCommands; more subcommands go on the Command it returns.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { RuleGetResponse } from '../../common/api-types.js';
import { RULE_NAME, explainMatch, renderRuleTarget, type CriterionResult, type RenderedTarget, type RuleDef } from '../../common/rule.js';
import type { ActionSpec } from '../../common/types.js';
import { loadConfig } from '../../lib/config.js';
import { readCredentials } from '../../lib/credentials.js';
import { ruleFileRefs, validateRuleFiles, type RuleCatalog, type RuleProblem } from '../../lib/rule-files.js';
import { ApiRequestError, type ApiClient } from '../api-client.js';
import { ExitError, client, err, out, printJson, table } from '../shared.js';
import { yamlFiles } from './pipeline.js';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The API client when one is configured (--api, STACKWIRE_API_URL or _KEY, or the credentials file); else undefined. */
function configuredClient(cmd: Command): ApiClient | undefined {
  const { apiKey, apiUrl, credentialsFile } = loadConfig().cli;
  if (!cmd.optsWithGlobals<{ api?: string }>().api && !apiKey && !apiUrl && !readCredentials(credentialsFile)) return undefined;
  return client(cmd);
}

/**
 * The actions the files name, fetched from the API (and every name when one is missing, for "did
 * you mean"); undefined when the API cannot be asked — the files are then checked offline.
 */
async function catalogFor(api: ApiClient, files: { content: string }[]): Promise<{ catalog?: RuleCatalog; note?: string }> {
  const names = [...new Set(files.flatMap((f) => ruleFileRefs(f.content).actions))];
  const found = new Map<string, ActionSpec>();
  try {
    await Promise.all(
      names.map(async (name) => {
        try {
          found.set(name, await api.getAction(name));
        } catch (e) {
          if (!(e instanceof ApiRequestError && e.status === 404)) throw e;
        }
      }),
    );
    const all = found.size < names.length ? (await api.listActions()).actions.map((a) => a.name) : [];
    return { catalog: { action: (name) => found.get(name), actionNames: () => all } };
  } catch (e) {
    return { note: `actions not checked: ${(e as Error).message}` };
  }
}

function printProblems(problems: RuleProblem[]): void {
  for (const p of problems) out(`${p.file}:${p.line}:${p.column}: ${p.message}`);
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? 'missing' : s.length > 80 ? `${s.slice(0, 77)}…` : s;
};

interface RuleTestResult {
  name: string;
  triggerType: string;
  enabled: boolean;
  matches: boolean;
  criteria: CriterionResult[];
  target: RenderedTarget['target'];
  values: RenderedTarget['values'];
  problems: RenderedTarget['problems'];
}

function testRule(def: RuleDef, payload: unknown): RuleTestResult {
  const criteria = explainMatch(def, payload);
  const { target, values, problems } = renderRuleTarget(def, payload);
  return {
    name: def.name,
    triggerType: def.trigger.type,
    enabled: def.enabled !== false,
    matches: criteria.every((c) => c.ok),
    criteria,
    target,
    values,
    problems,
  };
}

function printTest(r: RuleTestResult): void {
  out(
    `rule ${r.name} (${r.triggerType}): ${r.matches ? 'matches' : 'does not match'}${r.enabled ? '' : ' (but it is disabled: it never fires until enabled)'}`,
  );
  if (r.criteria.length === 0) out('  no criteria: every event of this trigger type matches');
  else
    out(
      table(r.criteria.map((c) => [`  ${c.ok ? 'ok' : 'FAILED'}`, c.path, c.type, c.pattern === undefined ? '' : show(c.pattern), `value: ${show(c.value)}`])),
    );
  const t = r.target;
  const what =
    t.kind === 'action'
      ? `action ${t.action.ref}`
      : `pipeline ${t.pipeline.name} of ${t.pipeline.pack ? `pack ${t.pipeline.pack}` : `component ${t.pipeline.component}${t.pipeline.ref ? `@${t.pipeline.ref}` : ''}`}`;
  const region = t.kind === 'action' ? t.action.region : t.pipeline.region;
  const keys = Object.keys(r.values);
  out(
    `${r.matches ? 'runs' : 'would run'} ${what}${region ? ` in ${region}` : ''}${keys.length ? ` with ${t.kind === 'action' ? 'parameters' : 'inputs'}:` : ''}`,
  );
  for (const k of keys) out(`  ${k}: ${JSON.stringify(r.values[k])}`);
  for (const p of r.problems) out(`  warning: ${p.path}: ${p.message}`);
}

function readPayload(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new ExitError(
      1,
      `cannot read the payload ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Give a JSON file (or - for standard input).`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ExitError(1, `the payload ${file} is not JSON: ${(e as Error).message}`);
  }
}

async function rulesToTest(cmd: Command, target: string): Promise<RuleDef[]> {
  if (fs.existsSync(target)) {
    const files = yamlFiles([target], 'rule');
    const r = validateRuleFiles(files);
    if (r.problems.length) {
      printProblems(r.problems);
      throw new ExitError(1, `${plural(r.problems.length, 'problem')} in the rule file: fix them first ('stackwire rule validate' checks the catalog too)`);
    }
    return r.rules.map((x) => x.definition);
  }
  if (!RULE_NAME.test(target)) throw new ExitError(1, `${target} is neither a file nor a rule name`);
  let rule: RuleGetResponse;
  try {
    rule = await client(cmd).getRule(target);
  } catch (e) {
    throw new ExitError(1, `there is no file ${target}, so it was taken for the name of an applied rule: ${(e as Error).message}`);
  }
  return [rule.definition];
}

export function registerRuleCommands(program: Command): Command {
  const rule = program
    .command('rule')
    .description("rules: when a trigger's payload meets the criteria, run an action or a pipeline (StackStorm's rule format)");
  rule
    .command('validate')
    .description(
      'check rule files: schema, operators and patterns, expressions, duplicate names, and — when an API is configured — the actions and their parameters; every problem as file:line:col; exit 0 when valid, 1 when not',
    )
    .argument('<file...>', 'rule files (several rules per file as YAML documents, ---), or folders of *.yml / *.yaml files')
    .option('--offline', 'do not ask the API for the actions (check their names by shape only)')
    .option('--json', 'print the result as JSON ({ok, problems, rules, catalog})')
    .action(async (targets: string[], opts: { offline?: boolean; json?: boolean }, cmd: Command) => {
      const files = yamlFiles(targets, 'rule');
      const api = opts.offline ? undefined : configuredClient(cmd);
      const { catalog, note } = api ? await catalogFor(api, files) : { note: `actions not checked: ${opts.offline ? '--offline' : 'no API configured'}` };
      if (note && opts.json) err(`stackwire: note: ${note}`);
      const r = validateRuleFiles(files, catalog);
      if (opts.json) {
        printJson({
          ok: r.problems.length === 0,
          problems: r.problems,
          rules: r.rules.map(({ file, definition }) => ({ file, name: definition.name, definition })),
          catalog: catalog ? api!.baseUrl : null,
        });
      } else {
        printProblems(r.problems);
        const checked = catalog ? '' : ` (${note})`;
        if (r.problems.length === 0)
          out(`${plural(r.rules.length, 'rule')} in ${plural(files.length, 'file')} valid: ${r.rules.map((x) => x.definition.name).join(', ')}${checked}`);
        else out(`${plural(r.problems.length, 'problem')} in ${new Set(r.problems.map((p) => p.file)).size} of ${plural(files.length, 'file')}${checked}`);
      }
      process.exitCode = r.problems.length ? 1 : 0;
    });
  rule
    .command('test')
    .description(
      'match a rule against a trigger payload, offline: each criterion with the value found, and the target with its rendered parameters; exit 0 when it matches, 2 when it does not, 1 on an error',
    )
    .argument('<rule>', 'a rule file (each of its rules is tested), or the name of an applied rule (fetched from the API)')
    .argument('<payload>', 'the trigger payload, a JSON file (- for standard input): what ${{ trigger }} and the criteria read')
    .option('--json', 'print the result as JSON ({matches, rules: [{name, matches, criteria, target, values, problems}]})')
    .exitOverride((e) => {
      // Usage errors end with 1 here: 2 means "does not match".
      throw e.exitCode === 0 ? e : new ExitError(1, '');
    })
    .action(async (target: string, payloadFile: string, opts: { json?: boolean }, cmd: Command) => {
      const defs = await rulesToTest(cmd, target);
      const payload = readPayload(payloadFile);
      const results = defs.map((d) => testRule(d, payload));
      const matches = results.some((r) => r.matches);
      if (opts.json) printJson({ matches, rules: results });
      else
        results.forEach((r, i) => {
          if (i) out('');
          printTest(r);
        });
      process.exitCode = matches ? 0 : 2;
    });
  return rule;
}
