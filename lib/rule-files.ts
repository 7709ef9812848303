/**
 * Rule files checked completely before a rule is applied or tested (README: Rules): YAML syntax, the
 * JSON Schema (schemas/rule.schema.json), the target, every criterion (a payload path, a known
 * operator, a pattern of the right type, a regular expression that compiles), the `${{ }}`
 * expressions of the parameters (only `trigger` may be read), the action and its literal parameters
 * when a catalog is given, and rule names unique across the files. Every problem at once, each with
 * file, line and column. A file holds one rule, or several as YAML documents separated by `---`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, isScalar, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import type { PipelineProblem } from '../common/pipeline.js';
import { PipelineExpressionError, embeddedExpressions, parseExpression, referencedPaths } from '../common/pipeline-expressions.js';
import { RULE_OPERATORS, UNSUPPORTED_ST2_OPERATORS, isRuleOperator, patternKind, patternProblem, pythonRegex } from '../common/rule-operators.js';
import { payloadPath, type RuleDef } from '../common/rule.js';
import { PROJECT_ROOT } from './config.js';
import { describeSchemaError, ownSchemaCheck, what } from './pipeline-schema-errors.js';
import {
  FileCheck,
  checkActionParameters,
  expressionOffset,
  isObj,
  suggestion,
  walkStrings,
  type ActionCatalog,
  type Obj,
  type Seg,
} from './yaml-file-check.js';

export const RULE_SCHEMA_FILE = path.join(PROJECT_ROOT, 'schemas', 'rule.schema.json');

/** The actions rules are checked against (ActionSpec fits); without one, action names are checked by shape only. */
export type RuleCatalog = ActionCatalog;
/** A problem: file, line, column (1-based), the document path and the message (which starts with that path). */
export type RuleProblem = PipelineProblem;

let compiled: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false }).compile(
    JSON.parse(fs.readFileSync(RULE_SCHEMA_FILE, 'utf8')) as object,
  );
  return compiled;
}

/** Errors of the schema this module reports itself, with better messages. */
const ownRuleCheck = (e: ErrorObject): boolean =>
  ownSchemaCheck(e) ||
  (e.keyword === 'enum' && /^\/criteria\/[^/]+\/type$/.test(e.instancePath)) ||
  (e.keyword === 'type' && /^\/criteria\/[^/]+$/.test(e.instancePath)) ||
  e.keyword === 'propertyNames' ||
  e.schemaPath.includes('/propertyNames/');

/** The documents of a file, with the YAML's problems; documents that are empty (a trailing `---`) are left out. */
function documents(text: string): { docs: Document[]; lc: LineCounter } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
  return { docs: [...docs].filter((d) => d.errors.length > 0 || (d.contents !== null && !(isScalar(d.contents) && d.contents.value === null))), lc };
}

/** The rule names and action refs a file mentions, read leniently (for loading the catalog first). */
export function ruleFileRefs(text: string): { names: string[]; actions: string[] } {
  const out = { names: [] as string[], actions: [] as string[] };
  for (const doc of documents(text).docs) {
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch {
      continue;
    }
    if (!isObj(data)) continue;
    if (typeof data.name === 'string') out.names.push(data.name);
    if (isObj(data.action) && typeof data.action.ref === 'string') out.actions.push(data.action.ref);
  }
  return out;
}

/** Validates rule files together: every problem of every file, and the rules of the documents that have none. */
export function validateRuleFiles(
  files: { path: string; content: string }[],
  catalog?: RuleCatalog,
): { rules: { file: string; definition: RuleDef }[]; problems: RuleProblem[] } {
  const rules: { file: string; definition: RuleDef }[] = [];
  const problems: RuleProblem[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    const { docs, lc } = documents(f.content);
    if (docs.length === 0) {
      problems.push({
        file: f.path,
        line: 1,
        column: 1,
        path: '',
        message: 'the file holds no rule: a rule is a mapping with name, trigger, and action or pipeline',
      });
      continue;
    }
    for (const doc of docs) {
      const c = new FileCheck(f.path, f.content, doc, lc);
      const data = checkDocument(c, catalog);
      if (isObj(data) && typeof data.name === 'string') {
        const first = seen.get(data.name);
        if (first !== undefined)
          c.add(['name'], `rule "${data.name}" is also defined ${first === f.path ? 'earlier in this file' : `in ${first}`}; rule names are unique`);
        else seen.set(data.name, f.path);
      }
      c.problems.sort((a, b) => a.line - b.line || a.column - b.column);
      problems.push(...c.problems);
      if (c.problems.length === 0) rules.push({ file: f.path, definition: data as RuleDef });
    }
  }
  return { rules, problems };
}

function checkDocument(c: FileCheck, catalog: RuleCatalog | undefined): unknown {
  for (const e of c.doc.errors) c.push([], e.pos[0], `YAML: ${e.message.split('\n')[0]}`);
  if (c.doc.errors.length) return undefined;
  let data: unknown;
  try {
    data = c.doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    c.push([], 0, `YAML: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  if (!isObj(data)) {
    c.add([], `a rule is a mapping with name, trigger, and action or pipeline (this document is ${what(data)})`);
    return data;
  }
  const validate = schemaValidator();
  if (!validate(data)) {
    const errors = (validate.errors ?? []).filter((e) => !ownRuleCheck(e));
    const said = new Set<string>();
    for (const e of errors) {
      const d = describeSchemaError(e, errors);
      if (!d || said.has(`${d.segs.join('/')} ${d.message}`)) continue;
      said.add(`${d.segs.join('/')} ${d.message}`);
      c.add(d.segs, d.message, { key: d.atKey });
    }
  }
  checkTarget(c, data, catalog);
  if (isObj(data.criteria)) for (const [key, criterion] of Object.entries(data.criteria)) checkCriterion(c, key, criterion);
  return data;
}

function checkTarget(c: FileCheck, data: Obj, catalog: RuleCatalog | undefined): void {
  const kinds = (['action', 'pipeline'] as const).filter((k) => data[k] !== undefined);
  if (kinds.length === 0) c.add([], 'a rule runs an action or a pipeline: add action: {ref: pack.action, parameters: …} or pipeline: {pack: …, name: …}');
  if (kinds.length === 2) c.add(['pipeline'], 'a rule runs an action or a pipeline, not both: remove action: or pipeline:', { key: true });
  const p = data.pipeline;
  if (isObj(p)) {
    const sources = (['pack', 'component'] as const).filter((k) => p[k] !== undefined);
    if (sources.length !== 1)
      c.add(['pipeline'], `a pipeline target names where the pipeline is: exactly one of pack: or component: (it has ${sources.length ? 'both' : 'neither'})`, {
        key: true,
      });
    if (p.ref !== undefined && p.component === undefined)
      c.add(['pipeline', 'ref'], "ref is a branch, tag or commit of a component's repository: give component: with it, or remove it", { key: true });
  }
  const params: Seg[] | undefined = isObj(data.action) ? ['action', 'parameters'] : isObj(p) ? ['pipeline', 'inputs'] : undefined;
  if (params) {
    const { node, key } = c.locate(params);
    if (key) walkStrings(node ?? null, params, (n, segs) => checkExpressions(c, n, segs));
  }
  if (catalog && isObj(data.action) && typeof data.action.ref === 'string')
    checkActionParameters(c, data.action.ref, data.action.parameters, { name: ['action', 'ref'], parameters: ['action', 'parameters'] }, catalog);
}

function checkExpressions(c: FileCheck, node: YamlNode & { value: string }, segs: Seg[]): void {
  const s = node.value;
  embeddedExpressions(s).forEach((e, k) => {
    const at = expressionOffset(c, node, k);
    if (s.indexOf('}}', e.start + 3) < 0) return c.push(segs, at, `"\${{" without a closing "}}"`);
    const expr = `\${{ ${e.source} }}`;
    try {
      parseExpression(e.source);
    } catch (err) {
      if (!(err instanceof PipelineExpressionError)) throw err;
      return c.push(segs, at, err.message);
    }
    const others = [...new Set(referencedPaths(e.source).map(([ctx]) => ctx))].filter((ctx) => ctx !== 'trigger');
    if (others.length)
      c.push(
        segs,
        at,
        `${expr}: a rule's expressions read only trigger (the event's payload); ${others.join(', ')} ${others.length > 1 ? 'are' : 'is'} not set here`,
      );
    else if (/\b(success|failure|always|cancelled)\s*\(/.test(e.source))
      c.push(segs, at, `${expr}: success(), failure(), always() and cancelled() belong to a pipeline step's if:, not to a rule`);
  });
}

/** ` (did you mean "matchwildcard"?)` for an operator cut short. */
const prefixOf = (op: string): string => {
  const full = op.length >= 3 ? RULE_OPERATORS.find((o) => o.startsWith(op.toLowerCase())) : undefined;
  return full ? ` (did you mean "${full}"?)` : '';
};

function checkCriterion(c: FileCheck, key: string, criterion: unknown): void {
  const at: Seg[] = ['criteria', key];
  if (!payloadPath(key)) {
    const hint = !/^trigger([.[#]|$)/.test(key)
      ? `it must start with "trigger." (trigger.${key}?)`
      : "write trigger.a.b (a numeric segment indexes a list), or trigger.a['b.c'] for a key with dots or brackets";
    c.add(at, `criteria key "${key}" is not a payload path: ${hint}`, { key: true });
  }
  if (!isObj(criterion)) {
    const example = typeof criterion === 'string' || typeof criterion === 'number' || typeof criterion === 'boolean' ? JSON.stringify(criterion) : '…';
    c.add(at, `a criterion is a mapping {type: <operator>, pattern: <value>}, e.g. {type: equals, pattern: ${example}} (it is ${what(criterion)})`);
    return;
  }
  const op = criterion.type;
  if (typeof op !== 'string') return; // the schema said so
  if (!isRuleOperator(op)) {
    const lower = op.toLowerCase();
    const hint = isRuleOperator(lower)
      ? ` (operators are lower-case: "${lower}")`
      : UNSUPPORTED_ST2_OPERATORS.includes(lower)
        ? ` (${lower} is a StackStorm operator Stackwire does not have yet)`
        : suggestion(op, RULE_OPERATORS) || prefixOf(op);
    c.add([...at, 'type'], `unknown operator "${op}"${hint}; operators: ${RULE_OPERATORS.join(', ')}`);
    return;
  }
  const pattern = criterion.pattern;
  const needed = patternKind(op) !== undefined;
  const wrong = patternProblem(op, pattern);
  if (needed && pattern === undefined) {
    c.add(at, `"pattern" is missing: ${op} compares the value with it (${wrong})`);
    return;
  }
  if (wrong) {
    c.add([...at, 'pattern'], `the pattern of ${op} must be ${wrong} (it is ${what(pattern)})`);
    return;
  }
  if (needed && typeof pattern === 'string' && pattern.includes('${{'))
    c.add([...at, 'pattern'], 'patterns are literal: ${{ }} is not evaluated in criteria (compare with a fixed value)');
  if (typeof pattern === 'string' && (op === 'regex' || op === 'iregex' || op === 'matchregex')) {
    const r = pythonRegex(pattern, op === 'iregex' ? 'i' : op === 'matchregex' ? 's' : '');
    if ('error' in r) {
      // The column of the position when the scalar is written as is (plain, or quoted without escapes).
      const { node } = c.locate([...at, 'pattern']);
      const [start, end] = node?.range ?? [0, 0];
      const raw = c.text.slice(start, end);
      const inside = raw === pattern ? 0 : /^['"]/.test(raw) && raw.slice(1, -1) === pattern ? 1 : undefined;
      c.push(
        [...at, 'pattern'],
        start + (inside === undefined ? 0 : inside + r.position),
        `the regular expression does not compile: ${r.error} (at position ${r.position} of the pattern)`,
      );
    }
  }
}
