/**
 * StackStorm workflows become Stackwire pipelines (`pipelines/<action>.yml`, added to the pack version
 * and run with `stackwire pipeline run pack:<pack> <action>`): action-chain and orquesta, as far as their
 * meaning carries over exactly — transitions on success and failure (a handled failure lets the run go
 * on, as in st2), published values, parameters, join: all, outputs. What does not (Jinja filters, the
 * datastore or config in expressions, other conditions, with-items, retry, loops …) leaves the
 * workflow unconverted with each reason listed: a pipeline that does something else than the workflow
 * did would be worse than none. README: Importing StackStorm packs.
 */
import YAML from 'yaml';
import { st2ActionName } from '../common/st2-names.js';

export interface ConvertedWorkflow {
  /** The pipeline file's path in the pack and its YAML. */
  path: string;
  content: string;
}

export class NotConvertible extends Error {
  override name = 'NotConvertible';
  constructor(readonly reasons: string[]) {
    super(reasons.join('; '));
  }
}

const stepId = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[^a-z0-9]+/, '') || 'step';

const INPUT_TYPES: Record<string, string> = { string: 'string', integer: 'number', number: 'number', boolean: 'boolean', array: 'list', object: 'object' };

/** The action's parameters as pipeline inputs. */
function inputsOf(params: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, p] of Object.entries(params)) {
    if (!p || typeof p !== 'object') continue;
    out[name] = {
      type: INPUT_TYPES[String(p.type)] ?? 'string',
      ...(typeof p.description === 'string' ? { description: p.description } : {}),
      ...(p.required === true && p.default === undefined ? { required: true } : {}),
      ...(p.default !== undefined && p.default !== null ? { default: p.default } : {}),
    };
  }
  return out;
}

/** A literal as a GitHub-style expression literal. */
function literal(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/'/g, "''")}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return `fromJSON('${JSON.stringify(v).replace(/'/g, "''")}')`;
}

/**
 * Rewrites each template of a value (`{{ … }}` Jinja, `<% … %>` YAQL) into `${{ … }}`, each reference
 * resolved by `resolve` (a path like `ctx().x.y` or `node.result.z`, already split). Anything beyond a
 * plain reference is not convertible.
 */
function convertValue(v: unknown, resolve: (expr: string) => string, where: string, reasons: string[]): unknown {
  if (Array.isArray(v)) return v.map((x, i) => convertValue(x, resolve, `${where}[${i}]`, reasons));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, convertValue(x, resolve, `${where}.${k}`, reasons)]));
  if (typeof v !== 'string') return v;
  if (/\{%/.test(v)) {
    reasons.push(`${where}: Jinja blocks ({% … %}) have no pipeline equivalent`);
    return v;
  }
  return v.replace(/\{\{([\s\S]*?)\}\}|<%([\s\S]*?)%>/g, (_m, jinja: string | undefined, yaql: string | undefined) => {
    const expr = (jinja ?? yaql ?? '').trim();
    try {
      return `\${{ ${resolve(expr)} }}`;
    } catch (err) {
      reasons.push(`${where}: ${(err as Error).message}`);
      return _m;
    }
  });
}

const PATH = /^([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\s*(?:'[^']*'|"[^"]*"|\d+)\s*\])*)$/;

function splitPath(expr: string): { head: string; rest: string } | undefined {
  const m = PATH.exec(expr);
  return m
    ? { head: m[1], rest: m[2].replace(/\[\s*["']([^"']*)["']\s*\]/g, (_x, k: string) => (/^[A-Za-z_]\w*$/.test(k) ? `.${k}` : `['${k}']`)) }
    : undefined;
}

/** `node.result…` / `node.stdout` of a step: its pipeline outputs (a JSON result's fields, else stdout). */
function stepRef(step: string, rest: string, expr: string): string {
  if (rest === '' || rest === '.result') return `steps.${step}.outputs`;
  if (rest.startsWith('.result.') || rest.startsWith('.result[')) return `steps.${step}.outputs${rest.slice('.result'.length)}`;
  if (rest === '.stdout') return `steps.${step}.outputs.stdout`;
  throw new Error(`{{ ${expr} }}: only a step's result (its JSON fields) and stdout carry over to a pipeline`);
}

function chainNodes(doc: Record<string, unknown>): Record<string, unknown>[] {
  const chain = doc.chain;
  if (!Array.isArray(chain) || chain.length === 0) throw new NotConvertible(['the chain has no nodes (chain: must be a list)']);
  return chain as Record<string, unknown>[];
}

/** A node of a workflow and the transitions into it: it runs when one of them fires (all of them with join). */
interface Node {
  id: string;
  action: string;
  with?: Record<string, unknown>;
  /** (source node id, the source's outcome that leads here). */
  incoming: { from: string; on: 'succeeded' | 'failed' }[];
  join?: boolean;
  /** It has a transition on failure: its failure is handled (the run goes on). */
  handlesFailure: boolean;
}

const fired = (t: Node['incoming'][number]) =>
  t.on === 'failed' ? `steps.${t.from}.outcome == 'failed'` : `(steps.${t.from}.outcome == 'succeeded' || steps.${t.from}.outcome == 'reused')`;

/**
 * Steps with the workflow's meaning: a step needs the nodes that lead to it and runs only when one of
 * those transitions fired (`if:` on their outcomes); a node with a transition on failure has
 * continue_on_error (its failure is handled, as st2 ends such a workflow with its last task's status);
 * a failure nothing handles fails the run.
 */
function graphSteps(nodes: Node[], reasons: string[]): Record<string, unknown>[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      reasons.push(`the workflow loops (${[...path, id].join(' → ')}): a pipeline has no loops`);
      return;
    }
    state.set(id, 'visiting');
    for (const t of byId.get(id)?.incoming ?? []) visit(t.from, [...path, id]);
    state.set(id, 'done');
  };
  for (const n of nodes) visit(n.id, []);
  return nodes.map((n) => ({
    id: n.id,
    action: n.action,
    ...(n.with && Object.keys(n.with).length ? { with: n.with } : {}),
    ...(n.incoming.length ? { needs: [...new Set(n.incoming.map((t) => t.from))] } : {}),
    ...(n.incoming.length ? { if: `\${{ ${n.incoming.map(fired).join(n.join ? ' && ' : ' || ')} }}` } : {}),
    ...(n.handlesFailure ? { continue_on_error: true } : {}),
  }));
}

/** An action-chain: each node runs after the node whose on-success or on-failure names it; the chain ends with its last node's status. */
export function convertActionChain(pack: string, name: string, meta: Record<string, unknown>, text: string, source: string): ConvertedWorkflow {
  const doc = (YAML.parse(text) ?? {}) as Record<string, unknown>;
  const reasons: string[] = [];
  for (const k of Object.keys(doc)) if (!['chain', 'default', 'vars'].includes(k)) reasons.push(`${k}: not an action-chain key`);
  const list = chainNodes(doc);
  const byName = new Map<string, Record<string, unknown>>();
  for (const n of list) {
    if (typeof n?.name !== 'string' || typeof n.ref !== 'string') throw new NotConvertible(['every chain node needs a name and a ref']);
    byName.set(n.name, n);
    for (const k of Object.keys(n))
      if (!['name', 'ref', 'params', 'parameters', 'on-success', 'on-failure', 'publish'].includes(k)) reasons.push(`node ${n.name}: ${k} is not converted`);
  }
  const targets = new Set(list.flatMap((n) => [n['on-success'], n['on-failure']].filter((x): x is string => typeof x === 'string')));
  for (const t of targets) if (!byName.has(t)) reasons.push(`a transition goes to ${t}, which is not a node of the chain`);
  const start = typeof doc.default === 'string' ? doc.default : list.find((n) => !targets.has(n.name as string))?.name;
  if (typeof start !== 'string' || !byName.has(start)) throw new NotConvertible([`the chain's start node ${String(start)} is not one of its nodes`]);
  const params = (meta.parameters ?? {}) as Record<string, Record<string, unknown>>;
  const vars = (doc.vars ?? {}) as Record<string, unknown>;
  const published = new Map<string, string>();
  const ids = new Map([...byName.keys()].map((n) => [n, stepId(n)]));
  const resolve = (expr: string): string => {
    const p = splitPath(expr);
    if (!p) throw new Error(`{{ ${expr} }}: Jinja filters, operators and calls have no exact pipeline equivalent`);
    if (p.head === '__results') return stepRef(ids.get(p.rest.match(/^\['?([^'\]]+)/)?.[1] ?? '') ?? '?', '', expr);
    if (ids.has(p.head)) return stepRef(ids.get(p.head)!, p.rest, expr);
    if (published.has(p.head)) return `${published.get(p.head)!}${p.rest}`;
    if (p.head in vars) {
      if (p.rest) throw new Error(`{{ ${expr} }}: a field of a chain variable`);
      const v = vars[p.head];
      const inner = typeof v === 'string' ? /^\s*\{\{([\s\S]*)\}\}\s*$/.exec(v) : null;
      return inner ? resolve(inner[1].trim()) : literal(v);
    }
    if (p.head in params) return `inputs.${p.head}${p.rest}`;
    throw new Error(
      `{{ ${expr} }}: ${p.head} is not a parameter, variable, published value or node of the chain (the datastore, config_context and action_context do not carry over)`,
    );
  };
  // In the order the chain can run (from the start node along its transitions), so a node's
  // parameters see what the nodes before it published.
  const order: string[] = [];
  for (const queue = [start]; queue.length;) {
    const cur = queue.shift()!;
    if (order.includes(cur)) continue;
    order.push(cur);
    const n = byName.get(cur)!;
    for (const next of [n['on-success'], n['on-failure']]) if (typeof next === 'string' && byName.has(next)) queue.push(next);
  }
  const unreachable = [...byName.keys()].filter((n) => !order.includes(n));
  if (unreachable.length) reasons.push(`nodes ${unreachable.join(', ')} are never reached from ${start}`);
  const nodes: Node[] = order.map((cur) => {
    const n = byName.get(cur)!;
    const withValues = convertValue(n.parameters ?? n.params ?? {}, resolve, `node ${cur}.parameters`, reasons) as Record<string, unknown>;
    for (const [k, v] of Object.entries((n.publish ?? {}) as Record<string, unknown>)) {
      const converted = convertValue(v, resolve, `node ${cur}.publish.${k}`, reasons);
      const inner = typeof converted === 'string' ? /^\$\{\{ ([\s\S]*) \}\}$/.exec(converted) : null;
      published.set(k, inner ? inner[1] : literal(converted));
    }
    const incoming = order.flatMap((o) => {
      const src = byName.get(o)!;
      return [
        ...(src['on-success'] === cur ? [{ from: ids.get(o)!, on: 'succeeded' as const }] : []),
        ...(src['on-failure'] === cur ? [{ from: ids.get(o)!, on: 'failed' as const }] : []),
      ];
    });
    return { id: ids.get(cur)!, action: st2ActionName(n.ref as string), with: withValues, incoming, handlesFailure: typeof n['on-failure'] === 'string' };
  });
  const steps = graphSteps(nodes, reasons);
  if (reasons.length) throw new NotConvertible(reasons);
  return render(pack, name, meta, source, 'action-chain', { steps });
}

function orquestaRef(
  expr: string,
  task: string | undefined,
  o: { inputs: Set<string>; vars: Record<string, unknown>; published: Map<string, string> },
): string {
  const ctx = /^ctx\(\s*(?:'([A-Za-z_]\w*)'|"([A-Za-z_]\w*)"|([A-Za-z_]\w*))?\s*\)((?:\.[A-Za-z_]\w*|\[[^\]]+\])*)$/.exec(expr);
  if (ctx) {
    let name = ctx[1] ?? ctx[2] ?? ctx[3];
    let rest = ctx[4];
    if (!name) {
      const m = /^\.([A-Za-z_]\w*)(.*)$/.exec(rest);
      if (!m) throw new Error(`${expr}: the whole context has no pipeline equivalent`);
      [, name, rest] = m;
    }
    if (o.published.has(name)) return `${o.published.get(name)!}${rest}`;
    if (name in o.vars) {
      if (rest) throw new Error(`${expr}: a field of a workflow variable`);
      return literal(o.vars[name]);
    }
    if (o.inputs.has(name)) return `inputs.${name}${rest}`;
    throw new Error(`${expr}: ${name} is not an input, variable or published value of the workflow`);
  }
  const result = /^result\(\)((?:\.[A-Za-z_]\w*|\[[^\]]+\])*)$/.exec(expr);
  if (result && task) return stepRef(task, result[1], expr);
  throw new Error(`${expr}: only ctx() and result() references carry over to a pipeline (no functions, filters or operators)`);
}

const SUCCEEDED = /^(?:<%|\{\{)\s*succeeded\(\)\s*(?:%>|\}\})$/;
const FAILED = /^(?:<%|\{\{)\s*failed\(\)\s*(?:%>|\}\})$/;

/** An orquesta workflow: each task runs after the transitions into it (succeeded() or failed(); join: all waits for every one). */
export function convertOrquesta(pack: string, name: string, meta: Record<string, unknown>, text: string, source: string): ConvertedWorkflow {
  const doc = (YAML.parse(text) ?? {}) as Record<string, unknown>;
  const reasons: string[] = [];
  for (const k of Object.keys(doc)) if (!['version', 'description', 'input', 'vars', 'tasks', 'output'].includes(k)) reasons.push(`${k}: not converted`);
  const tasks = (doc.tasks ?? {}) as Record<string, Record<string, unknown>>;
  if (!Object.keys(tasks).length) throw new NotConvertible(['the workflow has no tasks']);
  const inputs = new Set<string>((Array.isArray(doc.input) ? doc.input : []).map((i: unknown) => (typeof i === 'string' ? i : Object.keys(i as object)[0])));
  const vars = Object.assign({}, ...(Array.isArray(doc.vars) ? (doc.vars as object[]) : [])) as Record<string, unknown>;
  const published = new Map<string, string>();
  const ids = new Map(Object.keys(tasks).map((t) => [t, stepId(t)]));
  const incoming = new Map<string, Node['incoming']>();
  const handles = new Set<string>();
  for (const [tname, t] of Object.entries(tasks)) {
    for (const k of Object.keys(t)) if (!['action', 'input', 'next', 'join'].includes(k)) reasons.push(`task ${tname}: ${k} is not converted`);
    if (typeof t.action !== 'string') reasons.push(`task ${tname}: no action (a task without one has no pipeline equivalent)`);
    for (const [i, n] of ((t.next ?? []) as Record<string, unknown>[]).entries()) {
      const when = n.when === undefined ? undefined : typeof n.when === 'string' ? n.when.trim() : JSON.stringify(n.when);
      const on = when === undefined ? undefined : SUCCEEDED.test(when) ? ('succeeded' as const) : FAILED.test(when) ? ('failed' as const) : undefined;
      if (!on) reasons.push(`task ${tname}.next[${i}]: when ${when ?? '(none: on completion)'} is not succeeded() or failed()`);
      if (on === 'failed') handles.add(tname);
      const publish = typeof n.publish === 'string' ? [n.publish] : ((n.publish ?? []) as unknown[]);
      for (const p of publish) {
        const [k, v] = typeof p === 'string' ? (p.split(/=(.*)/s) as [string, string]) : (Object.entries(p as object)[0] as [string, unknown]);
        const c = convertValue(v, (e) => orquestaRef(e, ids.get(tname), { inputs, vars, published }), `task ${tname}.publish.${k}`, reasons);
        const inner = typeof c === 'string' ? /^\$\{\{ ([\s\S]*) \}\}$/.exec(c) : null;
        published.set(k.trim(), inner ? inner[1] : literal(c));
      }
      const dos = n.do === undefined ? [] : Array.isArray(n.do) ? n.do : typeof n.do === 'string' ? n.do.split(/\s*,\s*/) : [JSON.stringify(n.do)];
      for (const d of dos as string[]) {
        if (!tasks[d]) reasons.push(`task ${tname} goes to ${d}, which is not a task`);
        else if (on) incoming.set(d, [...(incoming.get(d) ?? []), { from: ids.get(tname)!, on }]);
      }
    }
  }
  const nodes: Node[] = [];
  for (const [tname, t] of Object.entries(tasks)) {
    const into = incoming.get(tname) ?? [];
    if (into.length > 1 && t.join === undefined)
      reasons.push(`task ${tname} has ${into.length} incoming transitions without join: orquesta runs it once per transition`);
    if (t.join !== undefined && t.join !== 'all') reasons.push(`task ${tname}: join ${JSON.stringify(t.join)} (only join: all converts)`);
    const withValues = convertValue(t.input ?? {}, (e) => orquestaRef(e, undefined, { inputs, vars, published }), `task ${tname}.input`, reasons) as Record<
      string,
      unknown
    >;
    nodes.push({
      id: ids.get(tname)!,
      action: st2ActionName(String(t.action)),
      with: withValues,
      incoming: into,
      join: t.join === 'all',
      handlesFailure: handles.has(tname),
    });
  }
  const steps = graphSteps(nodes, reasons);
  const outputs: Record<string, string> = {};
  for (const o of Array.isArray(doc.output) ? (doc.output as object[]) : []) {
    const [k, v] = Object.entries(o)[0] as [string, unknown];
    const c = convertValue(v, (e) => orquestaRef(e, undefined, { inputs, vars, published }), `output.${k}`, reasons);
    outputs[k] = typeof c === 'string' ? c : JSON.stringify(c);
  }
  if (reasons.length) throw new NotConvertible(reasons);
  return render(pack, name, meta, source, 'orquesta', { steps, outputs });
}

function render(
  pack: string,
  name: string,
  meta: Record<string, unknown>,
  source: string,
  kind: string,
  p: { steps: Record<string, unknown>[]; outputs?: Record<string, string> },
): ConvertedWorkflow {
  const inputs = inputsOf((meta.parameters ?? {}) as Record<string, Record<string, unknown>>);
  const def = {
    name: stepId(name).replace(/_/g, '-'),
    ...(typeof meta.description === 'string' ? { description: meta.description } : {}),
    ...(Object.keys(inputs).length ? { inputs } : {}),
    steps: p.steps,
    ...(p.outputs && Object.keys(p.outputs).length ? { outputs: p.outputs } : {}),
  };
  const header = `# Converted by 'stackwire ingest' from ${source} (a StackStorm ${kind} workflow of pack ${pack}); regenerated on every ingest.\n`;
  return { path: `pipelines/${def.name}.yml`, content: header + YAML.stringify(def, { lineWidth: 0 }) };
}
