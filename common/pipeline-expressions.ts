/**
 * Pipeline expressions: GitHub Actions' `${{ … }}` language through `@actions/expressions` (the
 * implementation GitHub's own language services use), over the contexts `inputs`, `steps`,
 * `trigger`, `component`, `env`, `secrets` and `item` (in a for_each), with the status functions
 * `success()`, `failure()`, `always()` and `cancelled()` for `if:`. Pure and deterministic: the
 * interpreter workflow evaluates them, the validator parses them.
 */
import { Evaluator, Lexer, Parser, data, type Expr } from '@actions/expressions';
import { truthy } from '@actions/expressions/result';

export const CONTEXTS = ['inputs', 'steps', 'trigger', 'component', 'env', 'secrets', 'item', 'run'] as const;

const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled'].map((name) => ({ name, minArgs: 0, maxArgs: 0 }));

/** One `${{ … }}` in a string: its source and offsets (for messages with a column). */
export interface Embedded {
  source: string;
  /** Offset of `${{` in the string. */
  start: number;
  end: number;
}

export function embeddedExpressions(s: string): Embedded[] {
  const out: Embedded[] = [];
  let i = 0;
  for (;;) {
    const start = s.indexOf('${{', i);
    if (start < 0) return out;
    const close = s.indexOf('}}', start + 3);
    if (close < 0) {
      out.push({ source: s.slice(start + 3), start, end: s.length });
      return out;
    }
    out.push({ source: s.slice(start + 3, close).trim(), start, end: close + 2 });
    i = close + 2;
  }
}

export class PipelineExpressionError extends Error {
  override name = 'PipelineExpressionError';
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(message);
  }
}

const parsed = new Map<string, Expr>();

/** Parses one expression (without `${{ }}`); a PipelineExpressionError saying what is wrong otherwise. */
export function parseExpression(source: string): Expr {
  const hit = parsed.get(source);
  if (hit) return hit;
  if (source.trim() === '') throw new PipelineExpressionError('the expression is empty', source);
  try {
    const lexed = new Lexer(source).lex();
    const expr = new Parser(lexed.tokens, [...CONTEXTS], STATUS_FUNCTIONS).parse();
    if (parsed.size > 5000) parsed.clear();
    parsed.set(source, expr);
    return expr;
  } catch (err) {
    throw new PipelineExpressionError(`\${{ ${source} }}: ${err instanceof Error ? err.message : String(err)}`, source);
  }
}

/** The context names an expression reads, with the first property after each (`steps.build` → ['steps', 'build']). */
export function referencedPaths(source: string): string[][] {
  const out: string[][] = [];
  // The parser has no public walker; the contexts' own syntax is simple enough to read off the tokens.
  const re = /\b(inputs|steps|trigger|component|env|secrets|item|run)((?:\.[A-Za-z_][\w-]*|\[\s*'[^']*'\s*\])*)/g;
  for (const m of source.matchAll(re)) {
    const rest = [...m[2].matchAll(/\.([A-Za-z_][\w-]*)|\[\s*'([^']*)'\s*\]/g)].map((p) => p[1] ?? p[2]);
    out.push([m[1], ...rest]);
  }
  return out;
}

export interface StatusContext {
  /** No step this one depends on failed (or was cancelled). */
  success: boolean;
  failure: boolean;
  cancelled: boolean;
}

function toData(v: unknown): data.ExpressionData {
  return JSON.parse(JSON.stringify(v ?? null), data.reviver) as data.ExpressionData;
}

function fromData(d: data.ExpressionData): unknown {
  return JSON.parse(JSON.stringify(d, data.replacer)) as unknown;
}

export type Contexts = Partial<Record<(typeof CONTEXTS)[number], unknown>>;

function evaluateOne(source: string, ctx: Contexts, status?: StatusContext): data.ExpressionData {
  const expr = parseExpression(source);
  const dict = new data.Dictionary(...Object.entries(ctx).map(([key, value]) => ({ key, value: toData(value) })));
  const s = status ?? { success: true, failure: false, cancelled: false };
  const fns = new Map(
    [
      ['success', s.success],
      ['failure', s.failure],
      ['always', true],
      ['cancelled', s.cancelled],
    ].map(([name, v]) => [name as string, { name: name as string, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(v as boolean) }]),
  );
  try {
    return new Evaluator(expr, dict, fns).evaluate();
  } catch (err) {
    throw new PipelineExpressionError(`\${{ ${source} }}: ${err instanceof Error ? err.message : String(err)}`, source);
  }
}

/**
 * A value with its expressions evaluated: a string that is exactly one `${{ x }}` becomes x's value
 * (a number, a list …); other strings have each expression replaced by its text; objects and lists
 * are evaluated member by member.
 */
export function evaluateValue(v: unknown, ctx: Contexts): unknown {
  if (typeof v === 'string') {
    const found = embeddedExpressions(v);
    if (found.length === 0) return v;
    if (found.length === 1 && found[0].start === 0 && found[0].end === v.length) return fromData(evaluateOne(found[0].source, ctx));
    let out = '';
    let at = 0;
    for (const e of found) {
      out += v.slice(at, e.start) + evaluateOne(e.source, ctx).coerceString();
      at = e.end;
    }
    return out + v.slice(at);
  }
  if (Array.isArray(v)) return v.map((x) => evaluateValue(x, ctx));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, evaluateValue(x, ctx)]));
  return v;
}

/**
 * An `if:` condition: with or without `${{ }}`, truthy as GitHub defines it. Without a status
 * function in it, `success() && (…)` is implied, as in GitHub Actions.
 */
export function evaluateCondition(condition: string, ctx: Contexts, status: StatusContext): boolean {
  const t = condition.trim();
  const whole = embeddedExpressions(t);
  const source = whole.length === 1 && whole[0].start === 0 && whole[0].end === t.length ? whole[0].source : t;
  const usesStatus = /\b(success|failure|always|cancelled)\s*\(/.test(source);
  const d = evaluateOne(usesStatus ? source : `success() && (${source})`, ctx, status);
  return truthy(d);
}

/** Whether a condition names a status function (so it may run after a failure). */
export function conditionUsesStatus(condition: string | undefined): boolean {
  return condition !== undefined && /\b(failure|always|cancelled)\s*\(/.test(condition);
}
