/**
 * The shape every language analyser reports (the Python analyser, ingest/python/introspect.py,
 * prints exactly this as JSON), and its conversion into an action's parameter schema and argv rules.
 */
import type { ActionParameters, IngestWarning, ParameterSchema } from '../common/types.js';
import { SECRET_NAME } from '../common/validation.js';

export interface InferredParameter {
  name: string;
  kind: 'positional' | 'option';
  flags: string[];
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array';
  items_type?: 'string' | 'integer' | 'number' | null;
  default?: unknown;
  default_expr?: string;
  required: boolean;
  choices?: unknown[] | null;
  help?: string | null;
  metavar?: string | null;
  nargs?: string | number | null;
  action?: string | null;
  group?: string | null;
  mutex_group?: number | null;
  /** click hide_input=True. */
  secret?: boolean;
  position?: number | null;
  subcommand?: string | null;
  /** choices=range(a, b): the integers a to b - 1. */
  minimum?: number;
  maximum?: number;
  /** Why a person should look at it (a default or choices computed at run time, a custom type …). */
  review?: string;
}

export interface Introspection {
  file: string;
  description: string;
  framework: string;
  parameters: InferredParameter[];
  subcommands: { name: string; help: string | null }[];
  warnings: { line: number | null; message: string }[];
  /** False for a library module (no __main__ block, no shebang, no parser): not an action. */
  is_script?: boolean;
  /** add_mutually_exclusive_group(required=True): one of its members must be given. */
  required_mutex_groups?: number[];
}

export interface ConvertedVariant {
  /** Sub-command name, or undefined for the script itself. */
  subcommand?: string;
  description: string;
  parameters: ActionParameters;
  argvPrefix: string[];
}

export { SECRET_NAME };

function cleanName(raw: string): string {
  let n = raw.replace(/^-+/, '').replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(n)) n = `p_${n}`;
  return n;
}

function bestFlag(flags: string[]): string | undefined {
  return flags.find((f) => f.startsWith('--')) ?? flags[0];
}

function helpText(p: InferredParameter): string | undefined {
  if (!p.help) return undefined;
  const d = p.default;
  const def = d === undefined || d === null ? 'none' : typeof d === 'string' ? d : JSON.stringify(d);
  // argparse writes %(default)s, optparse %default.
  return p.help
    .replace(/%\(default\)s/g, def)
    .replace(/%default\b/g, def)
    .replace(/%%/g, '%');
}

/** Frameworks that accept --long=value and "--" as the end of options. */
const GNU_STYLE = new Set(['argparse', 'click', 'optparse', 'getopt']);

/**
 * A default as the schema's type: argparse runs string defaults through `type` (default='5' with
 * type=int is 5) and a scalar default of a list option is one item. Undefined when it cannot fit.
 */
function defaultFor(value: unknown, s: ParameterSchema): unknown {
  const one = (v: unknown, type: ParameterSchema['type'], choices?: unknown[]): unknown => {
    let out: unknown;
    if (type === 'integer') out = typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : undefined;
    else if (type === 'number')
      out = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
    else if (type === 'string') out = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    else if (type === 'boolean') out = typeof v === 'boolean' ? v : undefined;
    else out = v;
    return out !== undefined && choices && !choices.includes(out) ? undefined : out;
  };
  if (s.type === 'array') {
    const items = Array.isArray(value) ? value : [value];
    const converted = items.map((v) => one(v, (s.items?.type ?? 'string') as ParameterSchema['type'], s.items?.enum));
    return converted.every((v) => v !== undefined) ? converted : undefined;
  }
  return one(value, s.type, s.enum);
}

function schemaFor(p: InferredParameter, gnu: boolean, problems: string[] = []): { name: string; schema: ParameterSchema; required: boolean } {
  let name = cleanName(p.name);
  const s: ParameterSchema = {};
  const description = helpText(p);
  if (description) s.description = description;
  if (p.kind === 'positional') {
    s.position = p.position ?? 0;
  } else {
    const flag = bestFlag(p.flags);
    if (flag) s.flag = flag;
  }
  switch (p.action) {
    case 'store_false':
      // Exposed as the flag a human types (`--no-verify`), true when the flag is given.
      name = cleanName(bestFlag(p.flags) ?? p.name);
      s.type = 'boolean';
      s.default = false;
      break;
    case 'store_true':
    case 'store_const':
    case 'append_const':
      s.type = 'boolean';
      s.default = false;
      break;
    case 'count':
      s.type = 'integer';
      s.count = true;
      s.minimum = 0;
      s.default = typeof p.default === 'number' ? p.default : 0;
      break;
    default: {
      s.type = p.type;
      if (p.type === 'boolean') {
        // --wait/--no-wait (click) or BooleanOptionalAction: both directions can be said.
        const positive = p.flags.find((f) => f.startsWith('--') && !f.startsWith('--no-'));
        const negative = p.flags.find((f) => f.startsWith('--no-'));
        if (positive) s.flag = positive;
        if (negative) s.flagFalse = negative;
        s.default = typeof p.default === 'boolean' ? p.default : false;
        break;
      }
      if (p.type === 'array') {
        s.items = { type: p.items_type ?? 'string' };
        if (p.choices?.length) s.items.enum = p.choices;
        if (p.kind === 'option' && p.action !== 'append') s.spread = true;
      } else if (p.choices?.length) s.enum = p.choices;
      // argparse's append adds the values given to a list default: passing the default again would double
      // it, so the script keeps it (given nothing, it has it; given values, it adds them, as it always did).
      const additive = (p.action === 'append' || p.action === 'extend') && Array.isArray(p.default) && p.default.length > 0;
      if (additive && !s.description) s.description = `default: ${(p.default as unknown[]).join(', ')} (kept by the script; values given are added to it)`;
      else if (additive) s.description += ` (the script's default ${(p.default as unknown[]).join(', ')} is kept; values given are added to it)`;
      if (p.default !== undefined && p.default !== null && !additive) {
        const d = defaultFor(p.default, s);
        if (d !== undefined) s.default = d;
        else problems.push(`the default ${JSON.stringify(p.default)} of ${name} does not fit its type (${s.type}); left to the script`);
      }
    }
  }
  if (p.minimum !== undefined && p.maximum !== undefined && s.type === 'integer') Object.assign(s, { minimum: p.minimum, maximum: p.maximum });
  if (SECRET_NAME.test(name) || p.secret) s.secret = true;
  // A secret's literal default would be shown in every listing: the script keeps it to itself.
  if (s.secret && s.default !== undefined && s.type !== 'boolean') {
    delete s.default;
    if (s.description) s.description = s.description.replaceAll(JSON.stringify(p.default).replace(/^"|"$/g, ''), '********');
  }
  // --name=value keeps a value that starts with "-" a value, exactly as a careful human types it.
  if (gnu && s.flag?.startsWith('--') && s.type !== 'boolean' && !s.count && !s.spread) s.flag = `${s.flag}=`;
  const required = p.required && s.default === undefined;
  return { name, schema: s, required };
}

/** One variant per sub-command (with the top-level options as `scope: global`), or one for the script. */
export function convert(intro: Introspection): { variants: ConvertedVariant[]; warnings: IngestWarning[] } {
  const warnings: IngestWarning[] = intro.warnings.map((w) => ({ file: intro.file, line: w.line, message: w.message }));
  const build = (params: InferredParameter[], scopeGlobal: (p: InferredParameter) => boolean) => {
    const properties: Record<string, ParameterSchema> = {};
    const required: string[] = [];
    const exclusive = new Map<number, string[]>();
    let positional = 0;
    const globalsFirst = [...params].sort((a, b) => Number(scopeGlobal(b)) - Number(scopeGlobal(a)));
    for (const p of globalsFirst) {
      const problems: string[] = [];
      const converted = schemaFor(p, GNU_STYLE.has(intro.framework), problems);
      for (const message of problems) warnings.push({ file: intro.file, line: null, message });
      const { schema, required: req } = converted;
      let name = converted.name;
      if (properties[name]) {
        // Several options share a dest (--tab / --no-indent / --compact all set "indent"): each becomes
        // its own parameter, named after its flag.
        const byFlag = cleanName(bestFlag(p.flags) ?? '');
        if (p.kind === 'option' && byFlag && !properties[byFlag]) name = byFlag;
        else {
          warnings.push({ file: intro.file, line: null, message: `parameter ${name} is defined twice; the first definition is kept` });
          continue;
        }
      }
      if (schema.position !== undefined) schema.position = positional++;
      if (scopeGlobal(p)) schema.scope = 'global';
      properties[name] = schema;
      if (req) required.push(name);
      if (p.mutex_group !== undefined && p.mutex_group !== null) exclusive.set(p.mutex_group, [...(exclusive.get(p.mutex_group) ?? []), name]);
    }
    // optparse and getopt hand the words after the options to the script (`opts, args = parser.parse_args()`):
    // without a way to pass them, a script that reads args[0] could never be called.
    if ((intro.framework === 'optparse' || intro.framework === 'getopt') && positional === 0) {
      const name = properties.args ? 'positional_args' : 'args';
      properties[name] = {
        type: 'array',
        items: { type: 'string' },
        position: positional++,
        description: 'the arguments after the options, as the script reads them from its leftover args',
      };
    }
    const parameters: ActionParameters = { type: 'object', properties, required, additionalProperties: false };
    const groups = [...exclusive.values()].filter((g) => g.length > 1);
    if (groups.length) parameters.exclusive = groups;
    const oneOf = [...exclusive.entries()].filter(([id]) => intro.required_mutex_groups?.includes(id)).map(([, g]) => g);
    if (oneOf.length) parameters.oneRequired = oneOf;
    if (GNU_STYLE.has(intro.framework) || intro.framework === 'getopts') parameters.endOfOptions = true;
    return parameters;
  };
  if (intro.subcommands.length === 0) {
    return { variants: [{ description: intro.description, parameters: build(intro.parameters, () => false), argvPrefix: [] }], warnings };
  }
  const top = intro.parameters.filter((p) => !p.subcommand);
  const variants = intro.subcommands.map((sc) => ({
    subcommand: sc.name,
    description: [sc.help ?? '', intro.description].filter(Boolean).join(' — '),
    parameters: build([...top, ...intro.parameters.filter((p) => p.subcommand === sc.name)], (p) => !p.subcommand),
    // A nested sub-command ("db migrate") is one argv word per level.
    argvPrefix: sc.name.split(' '),
  }));
  return { variants, warnings };
}

/** For scripts nothing could be inferred from: every argument as given. */
export function freeFormParameters(): ActionParameters {
  return {
    type: 'object',
    properties: {
      args: { type: 'array', items: { type: 'string' }, position: 0, description: 'arguments passed to the script as they are (nothing could be inferred)' },
    },
    required: [],
    additionalProperties: false,
  };
}
