/**
 * What the validators of YAML files share (lib/pipeline-validate.ts, lib/rule-files.ts): a file's
 * problems at the line and column of a document path, the string scalars of a document with their
 * paths, the offset of an expression in a scalar, and an action's literal parameters checked against
 * its parameter schema (a pipeline step's `with:`, a rule's `action.parameters`).
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, type Document, type Node as YamlNode, type Pair } from 'yaml';
import { ParameterError, validateParameters } from '../common/parameters.js';
import type { PipelineProblem } from '../common/pipeline.js';
import type { ActionParameters } from '../common/types.js';
import { closest } from './pipeline-schema-errors.js';

export type Seg = string | number;
export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `steps[2].with.port`; keys that are not plain names in brackets. */
export function documentPath(segs: readonly Seg[]): string {
  let s = '';
  for (const x of segs) s += typeof x === 'number' ? `[${x}]` : /^[A-Za-z_][\w-]*$/.test(x) ? `${s ? '.' : ''}${x}` : `[${JSON.stringify(x)}]`;
  return s;
}

export const keyOf = (p: Pair): string => (isScalar(p.key) ? String(p.key.value) : String(p.key));
export const hasExpression = (v: unknown): boolean =>
  typeof v === 'string' ? v.includes('${{') : Array.isArray(v) ? v.some(hasExpression) : isObj(v) ? Object.values(v).some(hasExpression) : false;
/** ` (did you mean "x"?)` when a known name is close to this one, else nothing. */
export const suggestion = (name: string, known: Iterable<string>): string => {
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

/** The actions a validator checks names and literal parameters against (the caller loads them). */
export interface ActionCatalog {
  action(name: string): { name: string; parameters: ActionParameters } | undefined;
  /** Every action name, when known: unknown actions get a "did you mean". */
  actionNames?(): Iterable<string>;
}

/**
 * An action named at `at.name` exists, and the literal parameters given at `at.parameters` (undefined:
 * none given) fit its parameter schema; a parameter set by an expression is checked when it is evaluated.
 */
export function checkActionParameters(c: FileCheck, name: string, parameters: unknown, at: { name: Seg[]; parameters: Seg[] }, catalog: ActionCatalog): void {
  const action = catalog.action(name);
  if (!action) {
    const hint = catalog.actionNames ? suggestion(name, catalog.actionNames()) : '';
    c.add(at.name, `no action "${name}" in the catalog${hint} ('stackwire action list' lists them)`);
    return;
  }
  if (parameters !== undefined && !isObj(parameters)) return; // the schema said so
  const given = parameters ?? {};
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
    const where = present ? [...at.parameters, first] : parameters !== undefined ? at.parameters : at.name;
    c.add(where, `${name} parameter "${p.parameter}"${items} ${p.message}${value}`, { key: present && /not a parameter/.test(p.message) });
  }
}

/** Calls `visit` for every string scalar of the document (values, not keys), with its path. */
export function walkStrings(node: YamlNode | null, segs: Seg[], visit: (n: YamlNode & { value: string }, segs: Seg[]) => void): void {
  if (isMap(node)) for (const p of node.items) walkStrings(p.value as YamlNode | null, [...segs, keyOf(p)], visit);
  else if (isSeq(node)) node.items.forEach((n, i) => walkStrings(n as YamlNode, [...segs, i], visit));
  else if (isScalar(node) && typeof node.value === 'string') visit(node as YamlNode & { value: string }, segs);
}

/** Offset in the file of the k-th `${{` of a scalar (its source may be quoted or a block). */
export function expressionOffset(c: FileCheck, node: YamlNode, k: number): number {
  const [start, end] = node.range ?? [0, 0];
  const raw = c.text.slice(start, end);
  let at = -1;
  for (let i = 0; i <= k; i++) {
    at = raw.indexOf('${{', at + 1);
    if (at < 0) return start;
  }
  return start + at;
}
