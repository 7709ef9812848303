/**
 * Rule criteria operators with StackStorm's semantics (st2common/operators.py and the rule filter of
 * st2reactor), compiled once per criterion into a test of the payload value. Pure: workflow-safe.
 *
 * What StackStorm does, and so what these do:
 * - No type coercion. `equals` compares like Python's `==` (5 is not "5"; lists and mappings deeply);
 *   `lessthan`/`greaterthan` compare two numbers numerically or two strings by code point, and fail
 *   for anything else (Python raises a TypeError, which fails the criterion).
 * - String operators (`iequals`, `icontains`, `startswith`, wildcards, regexes …) fail when the value
 *   is not a string. `contains`/`ncontains` also work on lists (an item equal to the pattern) and
 *   mappings (a key), `inside`/`ninside` on a list or string pattern (Python's `in`).
 * - A missing path and a null value are the same (StackStorm cannot tell them apart): `nexists`
 *   holds, and so do `nequals` and `ninside` with a list pattern (nothing is not equal to the
 *   pattern, nor in the list); every other operator fails.
 * - `matchregex` is Python's `re.match` with DOTALL (anchored at the start only); `regex` and `iregex`
 *   are `re.search` (anywhere in the string), `iregex` ignoring case. Python syntax is translated to
 *   JavaScript's (pythonRegex below); `matchwildcard` is `fnmatch`: the whole string, case-sensitive.
 */

/** Every operator name a rule may use: StackStorm's long names and its short aliases. */
export const RULE_OPERATORS = [
  'equals',
  'nequals',
  'iequals',
  'lessthan',
  'greaterthan',
  'matchwildcard',
  'matchregex',
  'regex',
  'iregex',
  'contains',
  'ncontains',
  'icontains',
  'incontains',
  'startswith',
  'istartswith',
  'endswith',
  'iendswith',
  'exists',
  'nexists',
  'inside',
  'ninside',
  'eq',
  'neq',
  'ieq',
  'lt',
  'gt',
  'in',
  'nin',
] as const;
export type RuleOperator = (typeof RULE_OPERATORS)[number];

const ALIASES: Partial<Record<RuleOperator, RuleOperator>> = {
  eq: 'equals',
  neq: 'nequals',
  ieq: 'iequals',
  lt: 'lessthan',
  gt: 'greaterthan',
  in: 'inside',
  nin: 'ninside',
};

/** StackStorm operators Stackwire does not have (yet): named in the message of an unknown operator. */
export const UNSUPPORTED_ST2_OPERATORS = ['timediff_lt', 'timediff_gt', 'td_lt', 'td_gt', 'search'];

export function isRuleOperator(s: string): s is RuleOperator {
  return (RULE_OPERATORS as readonly string[]).includes(s);
}

/** The long name of an operator (`eq` → `equals`). */
export function canonicalOperator(op: RuleOperator): RuleOperator {
  return ALIASES[op] ?? op;
}

/** What the pattern of an operator must be; undefined: none needed (exists, nexists). */
export function patternKind(op: RuleOperator): 'any' | 'scalar' | 'string' | 'number-or-string' | 'list-or-string' | undefined {
  switch (canonicalOperator(op)) {
    case 'exists':
    case 'nexists':
      return undefined;
    case 'equals':
    case 'nequals':
      return 'any';
    case 'contains':
    case 'ncontains':
      return 'scalar';
    case 'lessthan':
    case 'greaterthan':
      return 'number-or-string';
    case 'inside':
    case 'ninside':
      return 'list-or-string';
    default:
      return 'string';
  }
}

/** Whether a pattern fits its operator (patternKind); undefined when it does, else what it must be. */
export function patternProblem(op: RuleOperator, pattern: unknown): string | undefined {
  const kind = patternKind(op);
  const isScalar = typeof pattern === 'string' || typeof pattern === 'number' || typeof pattern === 'boolean';
  switch (kind) {
    case undefined:
      return undefined;
    case 'any':
      return pattern === undefined || pattern === null ? 'a value to compare with' : undefined;
    case 'scalar':
      return isScalar ? undefined : 'a string (a substring, a list item or a key) or a number or true/false (a list item)';
    case 'string':
      return typeof pattern === 'string' ? undefined : 'a string';
    case 'number-or-string':
      return (typeof pattern === 'number' && Number.isFinite(pattern)) || typeof pattern === 'string' ? undefined : 'a number (or a string, compared as text)';
    case 'list-or-string':
      return Array.isArray(pattern) || typeof pattern === 'string' ? undefined : 'a list of values (or a string: the value is a substring of it)';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Python's `==` on JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Python's `p in v` for JSON values; undefined where Python raises a TypeError. */
function pyIn(p: unknown, v: unknown): boolean | undefined {
  if (typeof v === 'string') return typeof p === 'string' ? v.includes(p) : undefined;
  if (Array.isArray(v)) return v.some((x) => deepEqual(x, p));
  if (isObject(v)) return typeof p === 'string' ? Object.hasOwn(v, p) : false;
  return undefined;
}

/** fnmatch's glob as a regular expression over the whole string: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`; case-sensitive (POSIX). */
export function wildcardRegex(glob: string): RegExp {
  const cls = (c: string) => (/[\\\]^[-]/.test(c) ? `\\${c}` : c);
  let out = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i++];
    if (c === '*') {
      while (glob[i] === '*') i++;
      out += '[\\s\\S]*';
    } else if (c === '?') out += '[\\s\\S]';
    else if (c === '[') {
      // The set ends at the first "]" after its first character (which may itself be "]"); none: a literal "[".
      let j = i;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        out += '\\[';
        continue;
      }
      const negate = glob[i] === '!';
      const body = glob.slice(negate ? i + 1 : i, j);
      i = j + 1;
      let set = '';
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === '-' && k + 2 < body.length) {
          // A range; an empty one (z-a) matches nothing, as in Python.
          if (body[k] <= body[k + 2]) set += `${cls(body[k])}-${cls(body[k + 2])}`;
          k += 2;
        } else set += cls(body[k]);
      }
      out += set === '' ? (negate ? '[\\s\\S]' : '(?!)') : `[${negate ? '^' : ''}${set}]`;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/**
 * A Python regular expression as a JavaScript one: `(?P<n>…)` → `(?<n>…)`, `(?P=n)` → `\k<n>`,
 * `\A`, `\Z`, Python's `$` (the end, or before a final newline), a leading `]` in a set, `(?#…)`
 * comments and leading global flags `(?ims)`. What JavaScript lacks (`(?x)` verbose mode, `\N{…}`,
 * `\U…`, scoped flags, possessive quantifiers and atomic groups) is an error; `\d`, `\w` and `\b` are
 * ASCII-only in JavaScript (Unicode in Python).
 */
export function pythonRegex(pattern: string, flags = ''): { regex: RegExp } | { error: string; position: number } {
  const t = translate(pattern, flags);
  if ('error' in t) return t;
  try {
    return { regex: new RegExp(t.source, t.flags) };
  } catch (err) {
    // JavaScript does not say where: the position is the end of the longest prefix that still compiles.
    let ok = 0;
    for (let k = 1; k < pattern.length; k++) if (compiles(pattern.slice(0, k), flags)) ok = k;
    return { error: (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, ''), position: ok };
  }
}

function compiles(prefix: string, flags: string): boolean {
  const t = translate(prefix, flags);
  if ('error' in t) return false;
  try {
    new RegExp(t.source, t.flags);
    return true;
  } catch {
    return false;
  }
}

function translate(pattern: string, flags: string): { source: string; flags: string } | { error: string; position: number } {
  let src = '';
  let f = flags;
  let i = 0;
  const lead = /^\(\?([aiLmsux]+)\)/.exec(pattern);
  if (lead) {
    if (lead[1].includes('x')) return { error: 'the verbose flag (?x) is not supported', position: 1 };
    for (const c of lead[1]) if ('ims'.includes(c) && !f.includes(c)) f += c;
    i = lead[0].length;
  }
  const end = f.includes('m') ? '$' : '(?=\\n?(?![\\s\\S]))';
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === 'A') src += '(?<![\\s\\S])';
      else if (n === 'Z') src += '(?![\\s\\S])';
      else if (n === 'N' || n === 'U') return { error: `\\${n} escapes are not supported`, position: i };
      else if (n === undefined) return { error: 'the pattern ends with a lone backslash', position: i };
      else src += `\\${n}`;
      i += 2;
    } else if (c === '[') {
      // A set: copied up to its closing "]" (a "]" first in it is a literal).
      let j = i + 1;
      let set = '[';
      if (pattern[j] === '^') set += pattern[j++];
      if (pattern[j] === ']') {
        set += '\\]';
        j++;
      }
      while (j < pattern.length && pattern[j] !== ']') {
        if (pattern[j] === '\\' && j + 1 < pattern.length) set += pattern[j++];
        set += pattern[j++];
      }
      if (j >= pattern.length) return { error: 'unterminated character set', position: i };
      src += `${set}]`;
      i = j + 1;
    } else if (pattern.startsWith('(?P<', i)) {
      src += '(?<';
      i += 4;
    } else if (pattern.startsWith('(?P=', i)) {
      const close = pattern.indexOf(')', i);
      if (close < 0) return { error: 'missing ), unterminated name', position: i };
      src += `\\k<${pattern.slice(i + 4, close)}>`;
      i = close + 1;
    } else if (pattern.startsWith('(?#', i)) {
      const close = pattern.indexOf(')', i);
      if (close < 0) return { error: 'missing ), unterminated comment', position: i };
      i = close + 1;
    } else if (/^\(\?[aiLmsux-]+[:)]/.test(pattern.slice(i))) {
      return { error: 'inline flags are supported only at the start of the pattern, for the whole of it', position: i };
    } else {
      src += c === '$' ? end : c;
      i++;
    }
  }
  return { source: src, flags: f };
}

/** A compiled criterion test: the value at the criterion's path (undefined: missing or null) → holds. */
export type CriterionTest = (value: unknown) => boolean;

/**
 * The test of one criterion, compiled once (regexes and globs included). Throws an Error saying what
 * is wrong when the pattern does not fit the operator or does not compile (lib/rule-files.ts reports
 * these with their line and column before a rule is ever compiled).
 */
export function compileCriterion(op: RuleOperator, pattern: unknown): CriterionTest {
  const wrong = patternProblem(op, pattern);
  if (wrong) throw new Error(`the pattern of ${op} must be ${wrong}`);
  const str =
    (test: (v: string) => boolean): CriterionTest =>
    (v) =>
      typeof v === 'string' && test(v);
  const regex = (flags: string, sticky: boolean): CriterionTest => {
    const r = pythonRegex(pattern as string, flags);
    if ('error' in r) throw new Error(`the regular expression does not compile: ${r.error} (at position ${r.position})`);
    const re = r.regex;
    if (!sticky) return str((v) => re.test(v));
    const anchored = new RegExp(re.source, `${re.flags}y`);
    return str((v) => {
      anchored.lastIndex = 0;
      return anchored.test(v);
    });
  };
  const p = pattern as string;
  switch (canonicalOperator(op)) {
    case 'exists':
      return (v) => v !== undefined && v !== null;
    case 'nexists':
      return (v) => v === undefined || v === null;
    case 'equals':
      if (typeof pattern !== 'object') return (v) => v === pattern;
      return (v) => deepEqual(v, pattern);
    case 'nequals':
      if (typeof pattern !== 'object') return (v) => v !== pattern;
      return (v) => !deepEqual(v, pattern);
    case 'iequals': {
      const lower = p.toLowerCase();
      return str((v) => v.toLowerCase() === lower);
    }
    case 'lessthan':
    case 'greaterthan': {
      const less = canonicalOperator(op) === 'lessthan';
      return (v) =>
        typeof v === typeof pattern && (typeof v === 'number' || typeof v === 'string') && (less ? v < (pattern as typeof v) : v > (pattern as typeof v));
    }
    case 'contains':
      return (v) => pyIn(pattern, v) === true;
    case 'ncontains':
      return (v) => pyIn(pattern, v) === false;
    case 'icontains': {
      const lower = p.toLowerCase();
      return str((v) => v.toLowerCase().includes(lower));
    }
    case 'incontains': {
      const lower = p.toLowerCase();
      return str((v) => !v.toLowerCase().includes(lower));
    }
    case 'startswith':
      return str((v) => v.startsWith(p));
    case 'istartswith': {
      const lower = p.toLowerCase();
      return str((v) => v.toLowerCase().startsWith(lower));
    }
    case 'endswith':
      return str((v) => v.endsWith(p));
    case 'iendswith': {
      const lower = p.toLowerCase();
      return str((v) => v.toLowerCase().endsWith(lower));
    }
    case 'matchwildcard': {
      const re = wildcardRegex(p);
      return str((v) => re.test(v));
    }
    case 'matchregex':
      return regex('s', true);
    case 'regex':
      return regex('', false);
    case 'iregex':
      return regex('i', false);
    case 'inside':
      if (Array.isArray(pattern)) return (v) => v !== undefined && v !== null && pattern.some((x) => deepEqual(v, x));
      return str((v) => p.includes(v));
    case 'ninside':
      if (Array.isArray(pattern)) return (v) => v === undefined || v === null || !pattern.some((x) => deepEqual(v, x));
      return str((v) => !p.includes(v));
    default:
      throw new Error(`unknown operator ${op}`);
  }
}
