/**
 * Shell scripts (bash/sh) analysed with a real parser (tree-sitter's bash grammar, run as WebAssembly),
 * never by running them. Recognised: getopts option strings with their `case` handlers, hand-rolled
 * `while … case "$1" in --long) x="$2"` loops, positional `$1…$n` assigned to names (with `${1:-default}`
 * defaults and `case` choices), names from a `# Usage:` header, and the header comment as description.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';
import type { InferredParameter, Introspection } from './introspection.js';

const require = createRequire(import.meta.url);
let parserPromise: Promise<Parser> | undefined;

function getParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const bash = await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
    const p = new Parser();
    p.setLanguage(bash);
    return p;
  })();
  return parserPromise;
}

function ancestor(n: Node, types: string[]): Node | undefined {
  for (let p = n.parent; p; p = p.parent) if (types.includes(p.type)) return p;
  return undefined;
}

function firstMissing(n: Node): Node | undefined {
  if (n.isMissing) return n;
  for (const c of n.children) {
    if (c && c.hasError) {
      const m = firstMissing(c);
      if (m) return m;
    }
  }
  return undefined;
}

function unquote(n: Node): string {
  if (n.type === 'string' || n.type === 'raw_string') return n.text.slice(1, -1);
  return n.text;
}

function all(n: Node, type: string | string[]): Node[] {
  return n.descendantsOfType(type).filter((x): x is Node => x !== null);
}

function named(n: Node): Node[] {
  return n.namedChildren.filter((x): x is Node => x !== null);
}

function commandName(cmd: Node): string | undefined {
  return cmd.childForFieldName('name')?.text;
}

/** The text a value node expands to when it is exactly one variable: "$1" → "1", "${OPTARG}" → "OPTARG". */
function soleVariable(n: Node | null): { name: string; op?: string; operand?: string } | undefined {
  if (!n) return undefined;
  let x: Node = n;
  if (x.type === 'string') {
    const kids = named(x);
    if (kids.length !== 1) return undefined;
    x = kids[0]!;
  }
  if (x.type === 'simple_expansion') {
    const v = named(x)[0];
    return v ? { name: v.text } : undefined;
  }
  if (x.type === 'expansion') {
    const kids = named(x);
    const v = kids[0];
    if (!v) return undefined;
    // ${1:-default} / ${1:?message}
    const opNode = x.children.find((c) => c !== null && !c.isNamed && /^:?[-=?+]$/.test(c.type));
    const rest = kids
      .slice(1)
      .map((k) => unquote(k))
      .join('');
    return { name: v.text, ...(opNode ? { op: opNode.type, operand: rest } : {}) };
  }
  return undefined;
}

function literal(value: string): { type: 'integer' | 'string'; value: unknown } {
  return /^-?\d+$/.test(value) ? { type: 'integer', value: Number(value) } : { type: 'string', value };
}

function headerComments(root: Node): { description: string; usage?: string } {
  const lines: string[] = [];
  let usage: string | undefined;
  for (const c of named(root)) {
    if (c.type !== 'comment') break;
    const text = c.text.replace(/^#!.*$/, '').replace(/^#\s?/, '');
    if (/^usage:/i.test(text.trim())) {
      usage = text.trim().replace(/^usage:\s*/i, '');
      continue;
    }
    if (c.text.startsWith('#!')) continue;
    lines.push(text.trim());
  }
  const para: string[] = [];
  for (const l of lines) {
    if (l === '' && para.length) break;
    if (l !== '') para.push(l);
  }
  return { description: para.join(' '), ...(usage ? { usage } : {}) };
}

/** Positional names from a usage line: "script.sh [-t timeout] host port [extra]" → host, port, extra. */
function usageNames(usage: string | undefined): { name: string; optional: boolean }[] {
  if (!usage) return [];
  const words = usage
    .replace(/\[-[^\]]*\]/g, ' ')
    .split(/\s+/)
    .slice(1);
  return words
    .filter((w) => w && !w.startsWith('-') && !w.includes('$'))
    .map((w) => ({ optional: w.startsWith('['), name: w.replace(/[[\]<>.]/g, '').toLowerCase() }))
    .filter((w) => /^[a-z_][a-z0-9_-]*$/.test(w.name));
}

export async function analyzeShell(file: string, source: string): Promise<Introspection> {
  const parser = await getParser();
  const tree = parser.parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  const root = tree.rootNode;
  const out: Introspection = { file, description: '', framework: 'none', parameters: [], subcommands: [], warnings: [], is_script: true };
  const header = headerComments(root);
  out.description = header.description;
  // tree-sitter's tree is error-tolerant: the parts that parsed are analysed; a part that did not is
  // said in a warning, and only options and arguments read outside it are described.
  const broken = root.hasError;
  // (tree-sitter may wrap whole statements that parsed in an ERROR node around the one that did not)
  const unparsed = (n: Node): boolean => n.hasError || n.type === 'ERROR';
  const topLevel = broken ? named(root).flatMap((n) => (n.type === 'ERROR' ? named(n) : [n])) : named(root);

  // Top-level defaults: NAME=value before any option handling.
  const defaults = new Map<string, { type: 'integer' | 'string'; value: unknown }>();
  for (const a of topLevel.filter((n) => n.type === 'variable_assignment')) {
    const name = a.childForFieldName('name')?.text;
    const value = a.childForFieldName('value');
    if (
      name &&
      value &&
      (value.type === 'number' ||
        value.type === 'word' ||
        ((value.type === 'string' || value.type === 'raw_string') && named(value).every((k) => k.type === 'string_content')))
    ) {
      defaults.set(name, literal(unquote(value)));
    }
  }

  const params: InferredParameter[] = [];
  const optionVars = new Set<string>();

  // getopts "ab:c" var
  for (const cmd of all(root, 'command').filter((c) => commandName(c) === 'getopts')) {
    const args = cmd.childrenForFieldName('argument').filter((x): x is Node => x !== null);
    const spec = args[0] ? unquote(args[0]).replace(/^:/, '') : '';
    const varName = args[1]?.text ?? 'opt';
    const cases = all(root, 'case_statement').filter((cs) => soleVariable(cs.childForFieldName('value'))?.name === varName);
    const loop = ancestor(cmd, ['while_statement', 'until_statement']) ?? cmd;
    if (broken && (unparsed(loop) || cases.some(unparsed))) continue;
    out.framework = 'getopts';
    const handlers = new Map<string, { var?: string; takesArg: boolean; informational: boolean }>();
    for (const cs of cases) {
      for (const item of named(cs).filter((n) => n.type === 'case_item')) {
        const patterns = item
          .childrenForFieldName('value')
          .filter((x): x is Node => x !== null)
          .map((p) => unquote(p));
        const assign = named(item).find((n) => n.type === 'variable_assignment');
        const target = assign?.childForFieldName('name')?.text;
        const fromOptarg = soleVariable(assign?.childForFieldName('value') ?? null)?.name === 'OPTARG';
        // usage; exit 0 / echo "$VERSION"; exit: help or version, not a parameter
        const exits = all(item, 'command').some((c) => commandName(c) === 'exit');
        const informational = exits && !assign && !/\$\{?OPTARG\b/.test(item.text);
        for (const p of patterns) if (/^[A-Za-z0-9]$/.test(p)) handlers.set(p, { ...(target ? { var: target } : {}), takesArg: fromOptarg, informational });
      }
    }
    for (let i = 0; i < spec.length; i++) {
      const letter = spec[i];
      if (letter === ':') continue;
      const takesArg = spec[i + 1] === ':';
      // -h is help only when it takes no value (getopts "h:p:" makes it e.g. the host).
      if (letter === 'h' && !takesArg) continue;
      const h = handlers.get(letter);
      if (h?.informational) continue;
      const name = (h?.var ?? `opt_${letter}`).toLowerCase();
      if (h?.var) optionVars.add(h.var);
      const def = h?.var ? defaults.get(h.var) : undefined;
      params.push(
        takesArg
          ? { name, kind: 'option', flags: [`-${letter}`], type: def?.type ?? 'string', default: def?.value ?? null, required: false, help: null }
          : { name, kind: 'option', flags: [`-${letter}`], type: 'boolean', default: null, required: false, action: 'store_true', help: null },
      );
      if (!h) {
        const message = `getopts option -${letter} has no case handler assigning a variable; named opt_${letter}`;
        out.warnings.push({ line: cmd.startPosition.row + 1, message });
        params[params.length - 1].review = message;
      }
    }
  }

  // while [ $# -gt 0 ]; case "$1" in --name) name="$2"; shift 2;; --flag) flag=1;; esac
  for (const cs of all(root, 'case_statement')) {
    if (soleVariable(cs.childForFieldName('value'))?.name !== '1') continue;
    if (broken && unparsed(ancestor(cs, ['while_statement', 'until_statement', 'for_statement']) ?? cs)) continue;
    const items = named(cs).filter((n) => n.type === 'case_item');
    const optionItems = items.filter((it) => it.childrenForFieldName('value').some((p) => p !== null && unquote(p).startsWith('-')));
    if (optionItems.length === 0) continue;
    if (out.framework === 'none') out.framework = 'case-loop';
    const itemFlags = (it: Node) =>
      it
        .childrenForFieldName('value')
        .filter((x): x is Node => x !== null)
        .map((p) => unquote(p))
        .filter((p) => p.startsWith('-') && p !== '--' && !/[*?[]/.test(p.replace(/[=*]+$/, '').slice(1)) && p !== '-*');
    // "--env) ENV=$2" and "--env=*) ENV=${1#*=}" are one option: the second is only another spelling.
    const plainFlags = new Set(optionItems.flatMap((it) => itemFlags(it).filter((f) => !f.endsWith('=*'))));
    for (const it of optionItems) {
      const all = itemFlags(it);
      const eqForm = all.filter((f) => f.endsWith('=*'));
      const flags = all.filter((f) => !f.endsWith('=*') || !plainFlags.has(f.slice(0, -2)));
      if (flags.some((f) => f === '-h' || f === '--help') || flags.length === 0) continue;
      const assign = named(it).find((n) => n.type === 'variable_assignment');
      const target = assign?.childForFieldName('name')?.text;
      const src = soleVariable(assign?.childForFieldName('value') ?? null)?.name;
      const long = flags.find((f) => f.startsWith('--')) ?? flags[0];
      const name = (target ?? long.replace(/^-+/, '').replace(/[=*]+$/, '')).toLowerCase().replace(/-/g, '_');
      if (target) optionVars.add(target);
      const def = target ? defaults.get(target) : undefined;
      // A value: assigned from $2, or $2 used and "shift 2" in the item, or the --name=value spelling.
      const takesArg = src === '2' || /\$\{?2\b/.test(it.text) || /\bshift\s+2\b/.test(it.text) || (eqForm.length > 0 && flags.every((f) => f.endsWith('=*')));
      // TAGS+=("$2"): given again for each value.
      const appends = assign !== undefined && /^\s*\w+\+=\(/.test(assign.text);
      const valueFlags = flags.map((f) => (f.endsWith('=*') ? f.slice(0, -1) : f.replace(/[=*]+$/, '')));
      params.push(
        takesArg
          ? appends
            ? { name, kind: 'option', flags: valueFlags, type: 'array', items_type: 'string', default: null, required: false, action: 'append', help: null }
            : { name, kind: 'option', flags: valueFlags, type: def?.type ?? 'string', default: def?.value ?? null, required: false, help: null }
          : { name, kind: 'option', flags, type: 'boolean', default: null, required: false, action: 'store_true', help: null },
      );
    }
  }

  // Positionals: NAME="$1" / NAME=${2:-default} at the top level (after option parsing shifted them).
  const positional: { index: number; name: string; def?: string; required: boolean; node: Node }[] = [];
  // "$1" inside a function is the function's own argument (log() { local msg="$1"; }), not the
  // script's; only a function called with the script's arguments (main "$@") counts.
  const forwarded = new Set(
    all(root, 'command')
      .filter((c) =>
        named(c)
          .slice(1)
          .some((a) => /^"?\$[@*]"?$/.test(a.text)),
      )
      .map((c) => c.childForFieldName('name')?.text ?? ''),
  );
  const inOwnFunction = (n: Node): boolean => {
    for (let p = n.parent; p; p = p.parent) {
      if (p.type === 'function_definition') return !forwarded.has(p.childForFieldName('name')?.text ?? '');
    }
    return false;
  };
  for (const a of all(root, 'variable_assignment')) {
    if (inOwnFunction(a) || (broken && unparsed(a))) continue;
    const v = soleVariable(a.childForFieldName('value'));
    const name = a.childForFieldName('name')?.text;
    if (!v || !name || !/^[1-9]$/.test(v.name) || optionVars.has(name)) continue;
    // Inside an option case-loop, "$2" is an option's value, not a positional.
    if (a.parent?.type === 'case_item') continue;
    const index = Number(v.name) - 1;
    if (positional.some((p) => p.index === index)) continue;
    positional.push({
      index,
      name: name.toLowerCase(),
      ...(v.op?.includes('-') || v.op?.includes('=') ? { def: v.operand ?? '' } : {}),
      required: !(v.op?.includes('-') || v.op?.includes('=')),
      node: a,
    });
  }
  // Bare $1…$n with no assignment: named from the usage line when it has them.
  const usage = usageNames(header.usage);
  const usedIndexes = new Set(
    all(root, 'simple_expansion')
      .filter((e) => !inOwnFunction(e))
      .map((e) => named(e)[0]?.text ?? '')
      .filter((t) => /^[1-9]$/.test(t))
      .map((t) => Number(t) - 1),
  );
  for (const idx of broken ? [] : [...usedIndexes].sort()) {
    if (positional.some((p) => p.index === idx)) continue;
    if (out.framework === 'case-loop' && idx <= 1) continue; // $1/$2 are the loop's cursor
    const u = usage[idx];
    positional.push({ index: idx, name: u?.name.replace(/-/g, '_') ?? `arg${idx + 1}`, required: !u?.optional, node: root });
    if (!u) out.warnings.push({ line: null, message: `positional $${idx + 1} has no name (no assignment, no Usage: line); named arg${idx + 1}` });
  }
  positional.sort((a, b) => a.index - b.index);
  // choices: case "$action" in start|stop) …
  for (const p of positional) {
    const choices: string[] = [];
    for (const cs of all(root, 'case_statement')) {
      const v = soleVariable(cs.childForFieldName('value'))?.name;
      if (v !== p.name && v !== String(p.index + 1)) continue;
      if (v === '1' && out.framework === 'case-loop') continue;
      for (const it of named(cs).filter((n) => n.type === 'case_item')) {
        for (const pat of it.childrenForFieldName('value').filter((x): x is Node => x !== null)) {
          const t = unquote(pat);
          if (/^[A-Za-z0-9_.-]+$/.test(t)) choices.push(t);
        }
      }
    }
    const lit = p.def !== undefined ? literal(p.def) : undefined;
    const unnamed = /^arg[1-9]$/.test(p.name) && p.node === root;
    params.push({
      ...(unnamed ? { review: `positional $${p.index + 1} has no name (no assignment, no Usage: line); named ${p.name}` } : {}),
      name: p.name,
      kind: 'positional',
      flags: [],
      type: lit?.type ?? 'string',
      default: lit?.value ?? null,
      required: p.required,
      choices: choices.length ? [...new Set(choices)] : null,
      help: null,
      position: p.index,
    });
  }
  if (params.some((p) => p.kind === 'positional') && out.framework === 'none') out.framework = 'positional';
  out.parameters = params;
  if (broken) {
    // the smallest part that did not parse, to point at
    const err = all(root, 'ERROR').sort((a, b) => a.endIndex - a.startIndex - (b.endIndex - b.startIndex))[0] ?? firstMissing(root) ?? root;
    const line = err.startPosition.row + 1;
    if (params.length === 0) {
      out.warnings.push({ line, message: 'shell syntax error; the script takes free-form arguments' });
      tree.delete();
      return out;
    }
    out.warnings.push({
      line,
      message: `line ${line} does not parse as shell (${JSON.stringify((source.split('\n')[line - 1] ?? '').trim().slice(0, 80))}): the options and arguments read in the parts that parse are described; check that the rest reads none`,
    });
  }
  if (params.length === 0 && (usedIndexes.size > 0 || all(root, 'simple_expansion').some((e) => ['@', '*'].includes(named(e)[0]?.text ?? '')))) {
    out.warnings.push({ line: null, message: 'the script reads its arguments in a way that could not be understood; it takes free-form arguments' });
    out.framework = 'unknown';
  }
  tree.delete();
  return out;
}
