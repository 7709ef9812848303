/**
 * Parameters → argv, exactly as a human would call the script. Pure, no shell anywhere:
 * every value is one argv element, so `x; rm -rf /` reaches the script as one literal string.
 */
import { CmdTemplateError, planCmd, type CmdPlan } from './st2-cmd.js';
import type { ActionSpec, ParameterSchema, Runner } from './types.js';

const INTERPRETERS: Record<Runner, string[]> = {
  python: ['python3'],
  // StackStorm python-script actions are classes, not CLIs: a shim imports the class and calls run(**parameters),
  // which it reads as JSON from stdin.
  'st2-python': ['python3', 'st2_python_shim.py'],
  // StackStorm remote-shell actions: the shim's --remote mode runs OpenSSH's client per host (its request on stdin).
  'st2-remote': ['python3', 'st2_python_shim.py', '--remote'],
  shell: ['bash'],
  node: ['node'],
  exec: [],
  builtin: [],
};

function scalar(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function argsFor(props: [string, ParameterSchema][], params: Record<string, unknown>, endOfOptions = false, fillGaps = false): string[] {
  const positional: { position: number; values: string[] }[] = [];
  const flags: string[] = [];
  for (const [name, schema] of props) {
    const value = params[name];
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? value.map(scalar) : [scalar(value)];
    if (schema.position !== undefined) {
      positional.push({ position: schema.position, values });
      continue;
    }
    const flag = schema.flag ?? `--${name.replace(/_/g, '-')}`;
    const joined = flag.endsWith('=');
    if (schema.type === 'boolean' && !joined) {
      if (value === true) flags.push(flag);
      else if (value === false && schema.flagFalse) flags.push(schema.flagFalse);
      continue;
    }
    if (schema.count) {
      for (let i = 0; i < Number(value); i++) flags.push(flag);
      continue;
    }
    if (schema.spread) {
      if (values.length) flags.push(flag, ...values);
      continue;
    }
    for (const v of values) {
      if (joined) flags.push(`${flag}${v}`);
      // "-o -x" would make the parser take -x for an option: getopt-style parsers read "-o-x" as -o's value.
      else if (endOfOptions && v.startsWith('-') && /^-[A-Za-z0-9]$/.test(flag)) flags.push(`${flag}${v}`);
      else flags.push(flag, v);
    }
  }
  positional.sort((a, b) => a.position - b.position);
  // A shell script reads $1, $2 … by place: a missing middle one is passed empty so the later ones keep their place.
  if (fillGaps && positional.length) {
    const all = Object.values(Object.fromEntries(props))
      .filter((s) => s.position !== undefined)
      .map((s) => s.position!);
    const last = positional[positional.length - 1].position;
    for (const p of all) if (p < last && !positional.some((x) => x.position === p)) positional.push({ position: p, values: [''] });
    positional.sort((a, b) => a.position - b.position);
  }
  const values = positional.flatMap((p) => p.values);
  // Flags first, then positionals: the order argparse, click, optparse and getopts all accept. A positional
  // that looks like an option goes after "--", so the script takes it as the literal value it is.
  const guard = endOfOptions && values.some((v) => v.startsWith('-')) ? ['--'] : [];
  return [...flags, ...guard, ...values];
}

/** Python's str() of a value, as StackStorm puts it after --name= (lists and dicts in Python's repr). */
function pythonStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'number') return String(v);
  const repr = (x: unknown): string => {
    if (typeof x !== 'string') return pythonStr(x);
    const escaped = x.replace(/\\/g, '\\\\');
    // Python quotes with ' unless the text holds a ' and no ".
    return x.includes("'") && !x.includes('"') ? `"${escaped}"` : `'${escaped.replace(/'/g, "\\'")}'`;
  };
  if (Array.isArray(v)) return `[${v.map(repr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${repr(k)}: ${repr(x)}`)
    .join(', ')}}`;
}

/**
 * StackStorm's local-shell-script argv, so imported scripts see what they saw under st2: named
 * parameters first as --name=value (true → a bare --name, false/None/"" → left out), then every
 * position in order, a missing one as "", booleans as 1/0, arrays comma-joined, objects as JSON.
 */
function st2Args(props: [string, ParameterSchema][], params: Record<string, unknown>): string[] {
  const named: string[] = [];
  const positions = new Map<number, string>();
  for (const [name, schema] of props) {
    const value = params[name];
    if (schema.position !== undefined) {
      let s = '';
      if (value === undefined || value === null) s = '';
      else if (typeof value === 'boolean') s = value ? '1' : '0';
      else if (Array.isArray(value)) s = value.map((x) => (typeof x === 'string' ? x : pythonStr(x))).join(',');
      else if (typeof value === 'object') s = Object.keys(value).length ? JSON.stringify(value) : '';
      else s = pythonStr(value);
      positions.set(schema.position, s);
      continue;
    }
    if (value === undefined || value === null || value === '' || value === false) continue;
    named.push(value === true ? `--${name}` : `--${name}=${pythonStr(value)}`);
  }
  const last = Math.max(-1, ...positions.keys());
  return [...named, ...Array.from({ length: last + 1 }, (_, i) => positions.get(i) ?? '')];
}

/** The argument list after the script path: global parameters, the fixed prefix (a sub-command), the rest. */
export function buildArgs(action: Pick<ActionSpec, 'parameters' | 'argvPrefix'> & { runner?: Runner }, params: Record<string, unknown>): string[] {
  const props = Object.entries(action.parameters.properties);
  if (action.parameters.st2Args) return st2Args(action.parameters.st2Env ? props.filter(([k]) => k !== 'env') : props, params);
  const global = props.filter(([, s]) => s.scope === 'global');
  const local = props.filter(([, s]) => s.scope !== 'global');
  const eoo = action.parameters.endOfOptions === true;
  const gaps = action.runner === 'shell';
  if (action.argvPrefix?.length) return [...argsFor(global, params, eoo, gaps), ...action.argvPrefix, ...argsFor(local, params, eoo, gaps)];
  return argsFor([...global, ...local], params, eoo, gaps);
}

/**
 * A local-shell-cmd action's command and environment. Template values are rendered as Jinja would
 * (Python's str()); an optional parameter not given renders empty.
 */
export function st2CmdPlan(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): CmdPlan | { error: string } {
  const values: Record<string, string> = {};
  for (const name of Object.keys(action.parameters.properties)) {
    const v = params[name];
    values[name] = v === undefined || v === null ? '' : pythonStr(v);
  }
  try {
    return planCmd(values.cmd ?? '', values);
  } catch (err) {
    if (err instanceof CmdTemplateError) return { error: err.message };
    throw err;
  }
}

/** Runner parameters of StackStorm's remote-shell runners: settings of the SSH run, never arguments of the script. */
export const REMOTE_RUNNER_PARAMETERS = ['hosts', 'username', 'private_key', 'port', 'cwd', 'env', 'cmd', 'timeout'] as const;

/** The arguments of a remote-shell-script (its own parameters, StackStorm's argv) and the values cmd templates read. */
export function st2RemoteParts(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): { args: string[]; values: Record<string, string> } {
  const own = Object.entries(action.parameters.properties).filter(([k]) => !(REMOTE_RUNNER_PARAMETERS as readonly string[]).includes(k));
  const values: Record<string, string> = {};
  for (const name of Object.keys(action.parameters.properties)) {
    if (name === 'private_key' || name === 'cmd') continue;
    const v = params[name];
    values[name] = v === undefined || v === null ? '' : pythonStr(v);
  }
  return { args: st2Args(own, params), values };
}

/** The environment a local-shell-cmd in shell form reads its template values from (empty otherwise). */
export function st2CmdEnv(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): Record<string, string> {
  if (!action.parameters.st2Cmd) return {};
  const plan = st2CmdPlan(action, params);
  return 'error' in plan ? {} : plan.env;
}

/** The whole command: interpreter, script path (relative to the pack folder), arguments. */
export function buildArgv(action: Pick<ActionSpec, 'parameters' | 'runner' | 'entryPoint' | 'argvPrefix'>, params: Record<string, unknown>): string[] {
  if (action.parameters.st2Cmd) {
    const plan = st2CmdPlan(action, params);
    // Shown, never run: the API refuses such parameters (validateParameters) and the worker checks again.
    return 'error' in plan ? ['false', `(cmd cannot run: ${plan.error})`] : plan.argv;
  }
  // The shim reads the parameters as JSON on stdin; nothing else goes on the command line.
  if (action.runner === 'st2-python' && action.parameters.st2Sensor) return [...INTERPRETERS[action.runner], '--sensor', action.entryPoint];
  if (action.runner === 'st2-python') return [...INTERPRETERS[action.runner], action.entryPoint];
  if (action.runner === 'st2-remote') return INTERPRETERS[action.runner];
  // A script path that starts with "-" would be read as an interpreter option (bash -c, python3 -m): say ./ first.
  const entry = action.entryPoint.startsWith('-') ? `./${action.entryPoint}` : action.entryPoint;
  return [...INTERPRETERS[action.runner], entry, ...buildArgs(action, params)];
}

export const MASK = '********';

/** argv for a human to read (and paste into a shell): arguments with special characters are single-quoted. */
/**
 * The keyword arguments a StackStorm python-script action's run() gets: every declared parameter, an
 * optional one not given as None (null), as st2's runner passes them.
 */
export function st2Kwargs(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): string {
  const all: Record<string, unknown> = {};
  for (const name of Object.keys(action.parameters.properties)) all[name] = params[name] ?? null;
  const out: Record<string, unknown> = { ...all, ...params };
  // `env` is the runner's (the process environment), never an argument of run().
  if (action.parameters.st2Env) delete out.env;
  return JSON.stringify(out);
}

/** Names an action's `env` may not set: the runtime's own. */
const RESERVED_ENV = /^(PATH|HOME|TMPDIR|PYTHONPATH|PYTHONHOME|LD_.*|STACKWIRE_.*|ST2_PARAM_.*)$/;

/** A StackStorm action's `env` parameter as environment variables (names that are valid and not the runtime's own). */
export function st2EnvVars(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): Record<string, string> {
  const env = params.env;
  if (!action.parameters.st2Env || !env || typeof env !== 'object' || Array.isArray(env)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env as Record<string, unknown>))
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !RESERVED_ENV.test(k)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

export function displayArgv(argv: string[]): string {
  return argv.map((a) => (a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** A copy of the parameters with every secret replaced by a mask: what logs, rows and history may hold. */
export function maskParameters(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = action.parameters.properties[k]?.secret ? MASK : v;
  return out;
}

/** argv with the values of secret parameters masked, for display. */
export function maskArgv(action: Pick<ActionSpec, 'parameters' | 'runner' | 'entryPoint' | 'argvPrefix'>, params: Record<string, unknown>): string[] {
  const secrets = Object.entries(action.parameters.properties)
    .filter(([, s]) => s.secret)
    .map(([k]) => k);
  if (secrets.length === 0) return buildArgv(action, params);
  const masked = { ...params };
  for (const k of secrets) if (masked[k] !== undefined) masked[k] = MASK;
  return buildArgv(action, masked);
}
