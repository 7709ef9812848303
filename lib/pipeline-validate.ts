/**
 * Pipeline files checked completely before anything runs (README: Pipelines, Validation): YAML syntax,
 * the JSON Schema (schemas/pipeline.schema.json), step kinds, ids, needs and their cycles, actions and
 * their literal parameters, every ${{ }} expression and what it refers to, durations and sub-pipelines.
 * Every problem at once, each with file, line, column and document path. The catalog is passed in (lib/
 * does not read the database). Run inputs: lib/pipeline-inputs.ts (re-exported here); several files at
 * once: lib/pipeline-files.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode, type Pair } from 'yaml';
import { closure, findCycle } from '../common/graph.js';
import { ParameterError, validateParameters } from '../common/parameters.js';
import { BUILTINS, durationSeconds, type PipelineDef, type PipelineInput, type PipelineProblem } from '../common/pipeline.js';
import { PipelineExpressionError, embeddedExpressions, parseExpression, referencedPaths } from '../common/pipeline-expressions.js';
import type { ActionParameters } from '../common/types.js';
import { PROJECT_ROOT } from './config.js';
import { inputValueProblem } from './pipeline-inputs.js';
import { closest, describeSchemaError, ownSchemaCheck } from './pipeline-schema-errors.js';

export { checkPipelineInputs, inputsFromPairs } from './pipeline-inputs.js';

export interface PipelineCatalog {
  action(name: string): { name: string; parameters: ActionParameters; timeoutSeconds: number; idempotent?: boolean } | undefined;
  /** Sub-pipeline names that exist (same repository/pack), when known. */
  pipelines?: ReadonlySet<string>;
  /** Every action name, when known: unknown actions get a "did you mean". */
  actionNames?(): Iterable<string>;
}

export const PIPELINE_SCHEMA_FILE = path.join(PROJECT_ROOT, 'schemas', 'pipeline.schema.json');

let compiled: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false }).compile(
    JSON.parse(fs.readFileSync(PIPELINE_SCHEMA_FILE, 'utf8')) as object,
  );
  return compiled;
}

type Seg = string | number;
export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const DURATION_HINT = 'write seconds (90) or a number with a unit: "30s", "5m", "2h", "1d"';

/** `steps[2].with.port`; keys that are not plain names in brackets. */
export function documentPath(segs: readonly Seg[]): string {
  let s = '';
  for (const x of segs) s += typeof x === 'number' ? `[${x}]` : /^[A-Za-z_][\w-]*$/.test(x) ? `${s ? '.' : ''}${x}` : `[${JSON.stringify(x)}]`;
  return s;
}

const keyOf = (p: Pair): string => (isScalar(p.key) ? String(p.key.value) : String(p.key));
const hasExpression = (v: unknown): boolean =>
  typeof v === 'string' ? v.includes('${{') : Array.isArray(v) ? v.some(hasExpression) : isObj(v) ? Object.values(v).some(hasExpression) : false;
const and = (xs: string[]) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
const suggestion = (name: string, known: Iterable<string>) => {
  const c = closest(name, known);
  return c ? ` (did you mean ${JSON.stringify(c)}?)` : '';
};

/** One file's checks: the parsed YAML, the data, and the problems found so far. */
export class FileCheck {
  readonly problems: PipelineProblem[] = [];
  constructor(
    readonly file: string,
    readonly text: string,
    readonly doc: Document,
    readonly lc: LineCounter,
  ) {}

  /** The value node at a path (or the deepest one that exists) and the key node of its last segment. */
  locate(segs: readonly Seg[]): { node: YamlNode | undefined; key: YamlNode | undefined } {
    let node = this.doc.contents as YamlNode | null | undefined;
    let key: YamlNode | undefined;
    for (const s of segs) {
      if (isAlias(node)) node = node.resolve(this.doc);
      const pair = isMap(node) ? node.items.find((p) => keyOf(p) === String(s)) : undefined;
      const item = isSeq(node) && typeof s === 'number' ? (node.items[s] as YamlNode | undefined) : undefined;
      if (pair) {
        key = pair.key as YamlNode;
        node = (pair.value as YamlNode | null) ?? undefined;
        // An empty value (`with:`) sits after the colon: point at its key.
        if (!node || (isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1])) return { node: key, key };
      } else if (item) {
        node = item;
        key = undefined;
      } else return { node: node ?? undefined, key: undefined };
    }
    return { node: node ?? undefined, key };
  }

  /** A problem at a path: the message is prefixed with the path; at the key (unknown keys) or an offset inside the value. */
  add(segs: readonly Seg[], message: string, at: { key?: boolean; offset?: number } = {}): void {
    const { node, key } = this.locate(segs);
    const target = at.key ? (key ?? node) : node;
    this.push(segs, (target?.range?.[0] ?? 0) + (at.offset ?? 0), message);
  }

  push(segs: readonly Seg[], offset: number, message: string): void {
    const p = this.lc.linePos(offset);
    const where = documentPath(segs);
    this.problems.push({ file: this.file, line: p.line, column: p.col, path: where, message: where ? `${where}: ${message}` : message });
  }
}

interface StepRef {
  list: 'steps' | 'on_failure';
  index: number;
  step: Obj;
  segs: Seg[];
}

export function stepsOf(data: Obj): StepRef[] {
  const out: StepRef[] = [];
  for (const list of ['steps', 'on_failure'] as const) {
    const v = data[list];
    if (Array.isArray(v)) v.forEach((step: unknown, index) => isObj(step) && out.push({ list, index, step, segs: [list, index] }));
  }
  return out;
}

/** Validates one pipeline file; the definition only when there is no problem. */
export function validatePipelineText(text: string, file: string, catalog: PipelineCatalog): { definition?: PipelineDef; problems: PipelineProblem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const c = new FileCheck(file, text, doc, lc);
  for (const e of doc.errors) c.push([], e.pos[0], `YAML: ${e.message.split('\n')[0]}`);
  if (doc.errors.length) return { problems: c.problems };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    c.push([], 0, `YAML: ${err instanceof Error ? err.message : String(err)}`);
    return { problems: c.problems };
  }
  const validate = schemaValidator();
  if (!validate(data)) {
    const errors = (validate.errors ?? []).filter((e) => !ownSchemaCheck(e));
    const seen = new Set<string>();
    for (const e of errors) {
      const d = describeSchemaError(e, errors);
      if (!d || seen.has(`${d.segs.join('/')} ${d.message}`)) continue;
      seen.add(`${d.segs.join('/')} ${d.message}`);
      c.add(d.segs, d.message, { key: d.atKey });
    }
  }
  if (isObj(data)) checkDefinition(c, data, catalog);
  c.problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return c.problems.length ? { problems: c.problems } : { definition: data as PipelineDef, problems: [] };
}

function checkDefinition(c: FileCheck, data: Obj, catalog: PipelineCatalog): void {
  const steps = stepsOf(data);
  const inputs = isObj(data.inputs) ? data.inputs : {};
  for (const [name, input] of Object.entries(inputs)) if (isObj(input)) checkInputDeclaration(c, name, input);

  // Ids, across steps and on_failure.
  const firstAt = new Map<string, StepRef>();
  for (const s of steps) {
    if (typeof s.step.id !== 'string') continue;
    const prev = firstAt.get(s.step.id);
    if (prev)
      c.add([...s.segs, 'id'], `step id "${s.step.id}" is used twice (first in ${documentPath(prev.segs)}); ids are unique across steps and on_failure`);
    else firstAt.set(s.step.id, s);
  }
  const mainIds = new Set(steps.filter((s) => s.list === 'steps' && typeof s.step.id === 'string').map((s) => s.step.id as string));
  const allIds = new Set(firstAt.keys());

  // needs: known ids (a step of steps may need only steps; one of on_failure any step), no cycles.
  const edges = new Map<string, string[]>();
  for (const s of steps) {
    const own = typeof s.step.id === 'string' ? s.step.id : undefined;
    const known = s.list === 'steps' ? mainIds : allIds;
    if (!Array.isArray(s.step.needs)) continue;
    s.step.needs.forEach((n: unknown, j) => {
      if (typeof n !== 'string') return;
      const at = [...s.segs, 'needs', j];
      if (n === own) c.add(at, `step ${own} needs itself; name the steps that must finish before it`);
      else if (!known.has(n)) {
        const where = s.list === 'steps' && allIds.has(n) ? ` (${n} is an on_failure step, which runs only after the pipeline failed)` : '';
        c.add(at, `needs "${n}", which is not a step${where}${where ? '' : suggestion(n, known)}; steps: ${[...known].join(', ') || '(none)'}`);
      } else if (own && firstAt.get(own) === s) edges.set(own, [...(edges.get(own) ?? []), n]);
    });
  }
  for (let i = 0; i < 20; i++) {
    const cycle = findCycle([...edges.keys()], edges);
    if (!cycle) break;
    const from = firstAt.get(cycle[0])!;
    const j = (from.step.needs as unknown[]).indexOf(cycle[1]);
    c.add([...from.segs, 'needs', j], `the needs form a cycle: ${cycle.join(' → ')}; no step of it could ever start`);
    const back = edges.get(cycle[0])!;
    back.splice(back.indexOf(cycle[1]), 1);
  }

  for (const s of steps) checkStep(c, s, catalog, typeof data.name === 'string' ? data.name : undefined);

  // Expressions everywhere, and what they refer to.
  const upstream = (id: string): Set<string> => new Set(closure(id, edges));
  walkStrings(c.doc.contents, [], (node, segs) => checkExpressions(c, node, segs, { inputs, steps, allIds, upstream }));
}

function checkInputDeclaration(c: FileCheck, name: string, input: Obj): void {
  const type = input.type as PipelineInput['type'];
  if (input.enum !== undefined && type !== 'string')
    c.add(['inputs', name, 'enum'], `enum lists the allowed values of a string input; this input is a ${String(type)}`);
  if (input.default !== undefined && ['string', 'number', 'boolean', 'list', 'object'].includes(type)) {
    const problem = inputValueProblem({ type, ...(Array.isArray(input.enum) ? { enum: input.enum as string[] } : {}) }, input.default);
    if (problem) c.add(['inputs', name, 'default'], `the default ${problem}`);
  }
}

function checkStep(c: FileCheck, s: StepRef, catalog: PipelineCatalog, ownName: string | undefined): void {
  const { step, segs } = s;
  const kinds = ['action', ...BUILTINS].filter((k) => step[k] !== undefined);
  if (kinds.length !== 1) c.add(segs, `a step needs exactly one of action, ${BUILTINS.join(', ')} (${kinds.length ? `it has ${and(kinds)}` : 'it has none'})`);
  if (step.with !== undefined && step.action === undefined && step.pipeline === undefined)
    c.add(
      [...segs, 'with'],
      `with gives an action's parameters or a sub-pipeline's inputs, and this step runs neither${kinds.length ? ` (it is a ${kinds[0]} step)` : ''}`,
      {
        key: true,
      },
    );
  for (const [field, at] of [
    ['timeout', [...segs, 'timeout']],
    ['sleep', [...segs, 'sleep']],
    ['deadline', [...segs, 'approval', 'deadline']],
  ] as const) {
    const v = field === 'deadline' ? (isObj(step.approval) ? step.approval.deadline : undefined) : step[field];
    if (v !== undefined && (!(typeof v === 'string' || typeof v === 'number') || durationSeconds(v) === undefined))
      c.add(at, `${JSON.stringify(v)} is not a duration; ${DURATION_HINT}`);
  }
  if (typeof step.pipeline === 'string' && catalog.pipelines && !catalog.pipelines.has(step.pipeline)) {
    const known = [...catalog.pipelines].sort();
    c.add(
      [...segs, 'pipeline'],
      step.pipeline === ownName
        ? `a pipeline cannot run itself as a step`
        : `no pipeline named "${step.pipeline}" among the files validated with this one${suggestion(step.pipeline, known)}; they define: ${known.join(', ') || '(none)'}`,
    );
  }
  if (typeof step.action === 'string') checkAction(c, s, step.action, catalog);
}

function checkAction(c: FileCheck, { step, segs }: StepRef, name: string, catalog: PipelineCatalog): void {
  const action = catalog.action(name);
  if (!action) {
    const hint = catalog.actionNames ? suggestion(name, catalog.actionNames()) : '';
    c.add([...segs, 'action'], `no action "${name}" in the catalog${hint} ('stackwire action list' lists them)`);
    return;
  }
  if (step.with !== undefined && !isObj(step.with)) return; // the schema said so
  const given = step.with ?? {};
  const computed = new Set(Object.keys(given).filter((k) => hasExpression(given[k])));
  const literal = Object.fromEntries(Object.entries(given).filter(([k]) => !computed.has(k)));
  const known = Object.keys(action.parameters.properties);
  const problems: { parameter: string; message: string }[] = [];
  try {
    validateParameters({ name: action.name, parameters: action.parameters }, literal);
  } catch (err) {
    if (!(err instanceof ParameterError)) throw err;
    // A parameter set by an expression is checked when the run evaluates it.
    problems.push(...err.problems.filter((p) => !p.parameter.split(', ').some((n) => computed.has(n))));
  }
  for (const k of computed)
    if (!known.includes(k)) problems.push({ parameter: k, message: `is not a parameter of this action; known parameters: ${known.join(', ') || '(none)'}` });
  const said = new Set<string>();
  for (const p of problems) {
    if (said.has(`${p.parameter} ${p.message}`)) continue; // one per parameter, not one per list item
    said.add(`${p.parameter} ${p.message}`);
    const first = p.parameter.split(', ')[0];
    const present = Object.hasOwn(given, first);
    const value = present && /^must/.test(p.message) ? ` (it is ${JSON.stringify(given[first])})` : '';
    // Ajv's error of a list's item names the list: say so.
    const items = present && Array.isArray(given[first]) && action.parameters.properties[first]?.type === 'array' && /^must be/.test(p.message) ? ' items' : '';
    const at = present ? [...segs, 'with', first] : step.with !== undefined ? [...segs, 'with'] : [...segs, 'action'];
    c.add(at, `${name} parameter "${p.parameter}"${items} ${p.message}${value}`, { key: present && /not a parameter/.test(p.message) });
  }
}

/** Calls `visit` for every string scalar of the document (values, not keys), with its path. */
function walkStrings(node: YamlNode | null, segs: Seg[], visit: (n: YamlNode & { value: string }, segs: Seg[]) => void): void {
  if (isMap(node)) for (const p of node.items) walkStrings(p.value as YamlNode | null, [...segs, keyOf(p)], visit);
  else if (isSeq(node)) node.items.forEach((n, i) => walkStrings(n as YamlNode, [...segs, i], visit));
  else if (isScalar(node) && typeof node.value === 'string') visit(node as YamlNode & { value: string }, segs);
}

interface ExprScope {
  inputs: Obj;
  steps: StepRef[];
  allIds: Set<string>;
  upstream: (id: string) => Set<string>;
}

/** Offset in the file of the k-th `${{` of a scalar (its source may be quoted or a block). */
function expressionOffset(c: FileCheck, node: YamlNode, k: number): number {
  const [start, end] = node.range ?? [0, 0];
  const raw = c.text.slice(start, end);
  let at = -1;
  for (let i = 0; i <= k; i++) {
    at = raw.indexOf('${{', at + 1);
    if (at < 0) return start;
  }
  return start + at;
}

function checkExpressions(c: FileCheck, node: YamlNode & { value: string }, segs: Seg[], scope: ExprScope): void {
  const s = node.value;
  const found = embeddedExpressions(s);
  const inStep =
    (segs[0] === 'steps' || segs[0] === 'on_failure') && typeof segs[1] === 'number'
      ? scope.steps.find((x) => x.list === segs[0] && x.index === segs[1])
      : undefined;
  const check = (source: string, offset: number) => {
    try {
      parseExpression(source);
    } catch (err) {
      if (!(err instanceof PipelineExpressionError)) throw err;
      c.push(segs, offset, err.message);
      return;
    }
    checkReferences(c, source, segs, offset, inStep, scope);
  };
  if (inStep && segs.length === 3 && segs[2] === 'if') {
    // As evaluateCondition reads it: one ${{ }} around all of it, or none.
    const t = s.trim();
    const w = embeddedExpressions(t);
    if (w.some((e) => t.indexOf('}}', e.start + 3) < 0)) c.push(segs, expressionOffset(c, node, 0), `"\${{" without a closing "}}"`);
    else if (w.length === 0) check(t, (node.range?.[0] ?? 0) + (isScalar(node) && node.type?.startsWith('QUOTE') ? 1 : 0));
    else if (w.length === 1 && w[0].start === 0 && w[0].end === t.length) check(w[0].source, expressionOffset(c, node, 0));
    else c.push(segs, expressionOffset(c, node, 0), 'an if condition is one expression: write it without ${{ }}, or as one ${{ … }} around all of it');
    return;
  }
  found.forEach((e, k) => {
    if (s.indexOf('}}', e.start + 3) < 0) c.push(segs, expressionOffset(c, node, k), `"\${{" without a closing "}}"`);
    else check(e.source, expressionOffset(c, node, k));
    // A secret stays sealed until the worker that runs the script opens it: it can only be a whole value.
    if (/\bsecrets\b/.test(e.source) && (found.length !== 1 || e.start !== 0 || e.end !== s.length || !/^secrets\.[A-Za-z_]\w*$/.test(e.source)))
      c.push(
        segs,
        expressionOffset(c, node, k),
        `\${{ ${e.source} }}: a secret can only be a whole value (\${{ secrets.NAME }} alone), given to an action's parameter`,
      );
  });
}

function checkReferences(c: FileCheck, source: string, segs: Seg[], offset: number, inStep: StepRef | undefined, scope: ExprScope): void {
  const expr = `\${{ ${source} }}`;
  for (const [ctx, first] of referencedPaths(source)) {
    if (ctx === 'inputs' && first !== undefined && !Object.hasOwn(scope.inputs, first)) {
      const declared = Object.keys(scope.inputs);
      c.push(
        segs,
        offset,
        `${expr}: inputs.${first} is not a declared input${suggestion(first, declared)}; declared: ${declared.join(', ') || '(none: add it under inputs:)'}`,
      );
    } else if (ctx === 'steps' && first !== undefined) {
      if (!scope.allIds.has(first)) c.push(segs, offset, `${expr}: steps.${first} is not a step${suggestion(first, scope.allIds)}`);
      else if (inStep?.list === 'steps' && typeof inStep.step.id === 'string') {
        const own = inStep.step.id;
        if (first === own) c.push(segs, offset, `${expr}: step ${own} cannot read its own results`);
        else if (!scope.upstream(own).has(first))
          c.push(segs, offset, `${expr}: step ${first} is not upstream of step ${own}; add "${first}" to its needs (or to the needs of a step it needs)`);
      }
    } else if (ctx === 'item' && !(inStep && inStep.step.for_each !== undefined && segs[2] !== 'for_each')) {
      c.push(segs, offset, `${expr}: item is set only inside a step with for_each`);
    }
  }
}
