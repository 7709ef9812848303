/**
 * Rules: a trigger type, criteria on the trigger's payload, and a target (an action or a pipeline)
 * whose parameters map the payload with `${{ trigger.… }}` expressions. StackStorm's rule format
 * (README: Rules; schemas/rule.schema.json); the operators are in rule-operators.ts.
 *
 * Pure and workflow-safe: the API keeps a RuleIndex in memory and matches every trigger against it;
 * lib/rule-files.ts validates rule files (with line and column) before anything is compiled here.
 */
import { embeddedExpressions, evaluateValue, referencedPaths } from './pipeline-expressions.js';
import { compileCriterion, type CriterionTest, type RuleOperator } from './rule-operators.js';

export { RULE_OPERATORS, canonicalOperator, isRuleOperator, type RuleOperator } from './rule-operators.js';

/** A rule's name. */
export const RULE_NAME = /^[a-z0-9][a-z0-9_.-]{0,99}$/;
/** A trigger type: `github.push`, `webhook.alerts`, `sensu.event`, `schedule.nightly` … */
export const TRIGGER_TYPE = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;

/** One criterion: the operator and what it compares with (none for exists / nexists). */
export interface RuleCriterion {
  type: RuleOperator;
  pattern?: unknown;
}

/** Run an action: `ref` is its name (`pack.action`); parameters may hold `${{ trigger.… }}`. */
export interface RuleActionTarget {
  ref: string;
  parameters?: Record<string, unknown>;
  region?: string;
}

/** Run a pipeline of a pack, or of a component's repository (at `ref`, default its default branch). */
export interface RulePipelineTarget {
  pack?: string;
  component?: string;
  ref?: string;
  /** Which pipeline of that source. */
  name: string;
  inputs?: Record<string, unknown>;
  region?: string;
}

export type RuleTarget = { kind: 'action'; action: RuleActionTarget } | { kind: 'pipeline'; pipeline: RulePipelineTarget };

/** A rule as its file holds it (validated by lib/rule-files.ts). Exactly one of `action` and `pipeline`. */
export interface RuleDef {
  name: string;
  description?: string;
  /** Default true; a disabled rule is kept but never matches. */
  enabled?: boolean;
  trigger: { type: string; parameters?: Record<string, unknown> };
  /** Payload path (`trigger.body.host`, a `#suffix` allowed to test one path twice) → criterion; all must hold. */
  criteria?: Record<string, RuleCriterion>;
  action?: RuleActionTarget;
  pipeline?: RulePipelineTarget;
}

/** The rule's target. */
export function ruleTarget(def: RuleDef): RuleTarget {
  if (def.action) return { kind: 'action', action: def.action };
  if (def.pipeline) return { kind: 'pipeline', pipeline: def.pipeline };
  throw new Error(`rule ${def.name} has neither action nor pipeline`);
}

/**
 * A criteria key as path segments into the payload: `trigger.body.hosts.0.name` → body, hosts, 0, name.
 * Dotted (a segment is anything but ".", "[", "]" and "#"; a numeric one indexes a list), or, for keys
 * with dots or other signs, StackStorm's brackets: `trigger.headers['X-Hub.Event']`, `trigger.hosts[0]`. A `#suffix` only
 * makes the key unique (to test one path twice). Undefined when it is not a payload path.
 */
export function payloadPath(key: string): string[] | undefined {
  const m = /^trigger((?:\.[^.#[\]]+|\['[^']*'\]|\["[^"]*"\]|\[\d+\])*)(#.*)?$/.exec(key);
  if (!m) return undefined;
  return [...m[1].matchAll(/\.([^.#[\]]+)|\['([^']*)'\]|\["([^"]*)"\]|\[(\d+)\]/g)].map((x) => x[1] ?? x[2] ?? x[3] ?? x[4]);
}

/** The value at a path of the payload (a numeric segment indexes a list); undefined when it is missing. */
export function lookup(payload: unknown, segs: readonly string[]): unknown {
  let v = payload;
  for (const s of segs) {
    if (Array.isArray(v)) v = /^\d+$/.test(s) ? v[Number(s)] : undefined;
    else if (typeof v === 'object' && v !== null && Object.hasOwn(v, s)) v = (v as Record<string, unknown>)[s];
    else return undefined;
  }
  return v;
}

interface CompiledCriterion {
  key: string;
  segs: string[];
  test: CriterionTest;
}

/** A rule compiled for matching: criteria with their regexes and globs compiled once. */
export interface CompiledRule {
  def: RuleDef;
  criteria: CompiledCriterion[];
  matches(payload: unknown): boolean;
}

/** Compiles a (validated) rule; throws an Error naming the criterion when one cannot be compiled. */
export function compileRule(def: RuleDef): CompiledRule {
  const criteria = Object.entries(def.criteria ?? {}).map(([key, c]): CompiledCriterion => {
    const segs = payloadPath(key);
    if (!segs) throw new Error(`rule ${def.name}: criteria key "${key}" is not a payload path (trigger.…)`);
    try {
      return { key, segs, test: compileCriterion(c.type, c.pattern) };
    } catch (err) {
      throw new Error(`rule ${def.name}: criteria["${key}"]: ${(err as Error).message}`);
    }
  });
  return {
    def,
    criteria,
    matches(payload: unknown): boolean {
      for (const c of criteria) if (!c.test(lookup(payload, c.segs))) return false;
      return true;
    },
  };
}

/**
 * Enabled rules by trigger type, compiled once; `match` is what runs per event. Within a trigger type,
 * a path several rules test is looked up once per event.
 */
export class RuleIndex {
  private readonly byType = new Map<string, Bucket>();
  readonly size: number;

  /** Throws like compileRule when a rule cannot be compiled (validate them first). */
  constructor(defs: Iterable<RuleDef>) {
    const grouped = new Map<string, CompiledRule[]>();
    let n = 0;
    for (const def of defs) {
      if (def.enabled === false) continue;
      const list = grouped.get(def.trigger.type) ?? [];
      list.push(compileRule(def));
      grouped.set(def.trigger.type, list);
      n++;
    }
    for (const [type, rules] of grouped) this.byType.set(type, new Bucket(rules));
    this.size = n;
  }

  /** The enabled rules of this trigger type whose criteria all hold for the payload, in the order given. */
  match(type: string, payload: unknown): RuleDef[] {
    return this.byType.get(type)?.match(payload) ?? [];
  }

  /** The trigger types that have at least one enabled rule. */
  triggerTypes(): string[] {
    return [...this.byType.keys()];
  }
}

const UNSEEN = Symbol('unseen');

class Bucket {
  private readonly paths: string[][] = [];
  /** Per rule: [path index, test] for each criterion. */
  private readonly rules: { def: RuleDef; checks: [number, CriterionTest][] }[];
  private readonly values: unknown[];

  constructor(compiled: CompiledRule[]) {
    const ids = new Map<string, number>();
    this.rules = compiled.map((r) => ({
      def: r.def,
      checks: r.criteria.map((c): [number, CriterionTest] => {
        const k = c.segs.join('\u0000');
        let id = ids.get(k);
        if (id === undefined) {
          id = this.paths.length;
          ids.set(k, id);
          this.paths.push(c.segs);
        }
        return [id, c.test];
      }),
    }));
    this.values = new Array<unknown>(this.paths.length);
  }

  match(payload: unknown): RuleDef[] {
    const values = this.values;
    values.fill(UNSEEN);
    const out: RuleDef[] = [];
    for (const rule of this.rules) {
      let ok = true;
      for (const [id, test] of rule.checks) {
        let v = values[id];
        if (v === UNSEEN) v = values[id] = lookup(payload, this.paths[id]);
        if (!test(v)) {
          ok = false;
          break;
        }
      }
      if (ok) out.push(rule.def);
    }
    return out;
  }
}

/** One criterion's outcome for a payload (`stackwire rule test`). */
export interface CriterionResult {
  path: string;
  type: string;
  pattern: unknown;
  /** The value at the path; absent when the path is missing. */
  value?: unknown;
  found: boolean;
  ok: boolean;
}

/** Every criterion of the rule against the payload, each with the value found and whether it holds. */
export function explainMatch(def: RuleDef, payload: unknown): CriterionResult[] {
  const compiled = compileRule(def);
  return compiled.criteria.map((c) => {
    const value = lookup(payload, c.segs);
    const { type, pattern } = def.criteria![c.key];
    const found = value !== undefined && value !== null;
    return { path: c.key, type, pattern, ...(value !== undefined ? { value } : {}), found, ok: c.test(value) };
  });
}

/** The target's parameters (or inputs) rendered for a payload, and what went wrong on the way. */
export interface RenderedTarget {
  target: RuleTarget;
  values: Record<string, unknown>;
  /** `path` is the parameter (`host`, `hosts[0]`); evaluation errors, and paths the payload does not have. */
  problems: { path: string; message: string }[];
}

/** Evaluates every `${{ … }}` of the target's parameters (or inputs) with `trigger` = the payload. */
export function renderRuleTarget(def: RuleDef, payload: unknown): RenderedTarget {
  const target = ruleTarget(def);
  const given = (target.kind === 'action' ? target.action.parameters : target.pipeline.inputs) ?? {};
  const values: Record<string, unknown> = {};
  const problems: RenderedTarget['problems'] = [];
  const ctx = { trigger: payload };
  for (const [key, v] of Object.entries(given)) {
    try {
      values[key] = evaluateValue(v, ctx);
    } catch (err) {
      problems.push({ path: key, message: (err as Error).message });
    }
    eachString(v, key, (s, at) => {
      for (const e of embeddedExpressions(s))
        for (const [context, ...segs] of referencedPaths(e.source))
          if (context === 'trigger' && lookupCaseless(payload, segs) === undefined)
            problems.push({ path: at, message: `\${{ ${e.source} }}: the payload has no ${['trigger', ...segs].join('.')} (it reads as null)` });
    });
  }
  return { target, values, problems };
}

function eachString(v: unknown, at: string, visit: (s: string, at: string) => void): void {
  if (typeof v === 'string') visit(v, at);
  else if (Array.isArray(v)) v.forEach((x, i) => eachString(x, `${at}[${i}]`, visit));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) eachString(x, `${at}.${k}`, visit);
}

/** As expressions read properties: case-insensitively. */
function lookupCaseless(payload: unknown, segs: readonly string[]): unknown {
  let v = payload;
  for (const s of segs) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const k = Object.keys(v).find((x) => x.toLowerCase() === s.toLowerCase());
    if (k === undefined) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
