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
import { LineCounter, isScalar, parseDocument, type Node as YamlNode } from 'yaml';
import { closure, findCycle } from '../common/graph.js';
import { BUILTINS, durationSeconds, type PipelineDef, type PipelineInput, type PipelineProblem } from '../common/pipeline.js';
import { PipelineExpressionError, embeddedExpressions, parseExpression, referencedPaths } from '../common/pipeline-expressions.js';
import type { ActionParameters } from '../common/types.js';
import { PROJECT_ROOT } from './config.js';
import { inputValueProblem } from './pipeline-inputs.js';
import { describeSchemaError, ownSchemaCheck } from './pipeline-schema-errors.js';
import {
  FileCheck,
  checkActionParameters,
  documentPath,
  expressionOffset,
  isObj,
  suggestion,
  walkStrings,
  type ActionCatalog,
  type Obj,
  type Seg,
} from './yaml-file-check.js';

export { checkPipelineInputs, inputsFromPairs } from './pipeline-inputs.js';
export { FileCheck, documentPath, isObj, type Obj } from './yaml-file-check.js';

export interface PipelineCatalog extends ActionCatalog {
  action(name: string): { name: string; parameters: ActionParameters; timeoutSeconds: number; idempotent?: boolean } | undefined;
  /** Sub-pipeline names that exist (same repository/pack), when known. */
  pipelines?: ReadonlySet<string>;
}

export const PIPELINE_SCHEMA_FILE = path.join(PROJECT_ROOT, 'schemas', 'pipeline.schema.json');

let compiled: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false }).compile(
    JSON.parse(fs.readFileSync(PIPELINE_SCHEMA_FILE, 'utf8')) as object,
  );
  return compiled;
}

const and = (xs: string[]) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
const DURATION_HINT = 'write seconds (90) or a number with a unit: "30s", "5m", "2h", "1d"';

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
    ['worker_wait', [...segs, 'worker_wait']],
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
  if (typeof step.action === 'string') checkActionParameters(c, step.action, step.with, { name: [...segs, 'action'], parameters: [...segs, 'with'] }, catalog);
}

interface ExprScope {
  inputs: Obj;
  steps: StepRef[];
  allIds: Set<string>;
  upstream: (id: string) => Set<string>;
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
