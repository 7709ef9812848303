/**
 * StackStorm packs: `actions/*.yaml` with a `runner_type` become Stackwire actions that run as they ran
 * under st2 (argv conventions, the python-script shim, `cmd` templates); `config.schema.yaml` is checked
 * here (values are set with `stackwire pack config` and read by the worker at run time); sensors, rules,
 * aliases, policies and every ignored field are said, never silent. README: Importing StackStorm packs.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import type { ActionParameters, IngestWarning, ParameterSchema } from '../common/types.js';
import { cmdTemplateRefs } from '../common/st2-cmd.js';
import { parseConfigSchema } from '../common/st2-config.js';
import { st2LocalName } from '../common/st2-names.js';
import type { PackFile } from '../db/packs.js';
import { SECRET_NAME } from './introspection.js';
import { convertActionChain, convertOrquesta, NotConvertible } from './st2-workflows.js';
import { importSensor } from './st2-sensors.js';
import type { St2Import } from './types.js';

export type { St2Import } from './types.js';

const DEFAULT_TIMEOUT = 600;

/** Parameters StackStorm's runners take for themselves: an immutable one is a runner setting, not an argument. */
const RUNNER_PARAMETERS: Record<string, readonly string[]> = {
  'local-shell-script': ['sudo', 'sudo_password', 'cwd', 'env', 'kwarg_op', 'timeout'],
  'local-shell-cmd': ['sudo', 'sudo_password', 'cwd', 'env', 'kwarg_op', 'timeout'],
  'python-script': ['env', 'timeout', 'log_level', 'python_path', 'debug', 'content_version'],
  'remote-shell-cmd': ['timeout'],
  'remote-shell-script': ['timeout'],
};

/** Settings of st2's SSH runner that Stackwire's does not have: dropped, each with a warning. */
const REMOTE_UNSUPPORTED: Record<string, string> = {
  password: 'password authentication is not supported: keys only (the pack config ssh_private_key, or private_key)',
  passphrase: 'a key with a passphrase is not supported: give an unencrypted key, kept sealed in the pack config',
  bastion_host: 'a bastion host is not supported',
  sudo: 'sudo is not supported: log in as the user the command needs',
  sudo_password: 'sudo is not supported',
  parallel: 'hosts are reached one after the other',
  dir: 'the script is sent over the SSH connection, not copied to a folder',
  kwarg_op: 'named parameters are passed as --name=value',
};

/** The runner parameters of st2's remote-shell runners an action need not declare. */
const REMOTE_RUNNER: Record<string, ParameterSchema & { required?: boolean }> = {
  hosts: { type: 'string', description: 'Hosts to run on: comma-separated names or addresses, each with an optional :port', required: true },
  username: { type: 'string', description: "The SSH user (default: the pack config's ssh_username)" },
  private_key: { type: 'string', secret: true, description: "The SSH private key (default: the pack config's ssh_private_key)" },
  port: { type: 'integer', default: 22, description: 'The SSH port' },
  cwd: { type: 'string', description: 'The folder to run in on each host' },
  env: { type: 'object', description: 'Environment variables for the command on each host' },
};

/** What a StackStorm pack's other folders hold, and why none of it becomes an action. */
const ST2_FOLDERS: [RegExp, string][] = [
  [/^sensors\//, "not named by a sensor's metadata (sensors/*.yaml with class_name and entry_point), so not imported"],
  [
    /^rules\//,
    'a StackStorm rule: ingest does not apply rules (a rule acts with the authority of who applies it): convert it with stackwire rule import <pack>/rules --out DIR, review, then stackwire rule apply DIR',
  ],
  [/^aliases\//, 'a StackStorm ChatOps alias: Stackwire has no ChatOps, so it is not imported'],
  [/^policies\//, 'a StackStorm policy: not imported (concurrency and retry are set per action in Stackwire)'],
];

/** Action metadata fields Stackwire reads; the others are named in a warning. */
const KNOWN_FIELDS = new Set(['name', 'runner_type', 'description', 'entry_point', 'parameters', 'pack', 'enabled', 'ref']);
const PARAM_FIELDS = new Set([
  'type',
  'description',
  'default',
  'enum',
  'required',
  'immutable',
  'secret',
  'position',
  'items',
  'minimum',
  'maximum',
  'pattern',
]);
const TYPES = new Set(['string', 'integer', 'number', 'boolean', 'array', 'object']);
const RUNS = new Set(['python-script', 'local-shell-script', 'local-shell-cmd', 'remote-shell-cmd', 'remote-shell-script']);

function hash(...parts: (Buffer | string)[]): string {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function lineOf(doc: YAML.Document, lc: YAML.LineCounter, keys: (string | number)[]): number | null {
  for (let n = keys.length; n > 0; n--) {
    // The key's own line (a value's node may start on the next line).
    const parent = n > 1 ? doc.getIn(keys.slice(0, n - 1), true) : doc.contents;
    if (YAML.isMap(parent)) {
      const pair = parent.items.find((p) => YAML.isScalar(p.key) && p.key.value === keys[n - 1]);
      const range = (pair?.key as YAML.Node | undefined)?.range;
      if (range) return lc.linePos(range[0]).line;
    }
  }
  return null;
}

function unsupportedRunner(runnerType: string): string {
  if (runnerType === 'orquesta' || runnerType === 'action-chain' || runnerType === 'mistral-v2')
    return 'workflows are converted to Stackwire pipelines (see the pipelines/ of the ingest report); this one could not be';
  if (runnerType.startsWith('remote')) return 'only remote-shell-cmd and remote-shell-script run over SSH';
  return 'use a script or a built-in action instead';
}

/** An action-chain or orquesta action: its workflow file becomes pipelines/<name>.yml, or it is listed with why not. */
function convertWorkflow(
  pack: string,
  name: string,
  runnerType: 'action-chain' | 'orquesta',
  meta: Record<string, unknown>,
  file: string,
  byPath: Map<string, PackFile>,
  out: St2Import,
): void {
  const entry = typeof meta.entry_point === 'string' ? `actions/${meta.entry_point}` : '';
  const wf = byPath.get(entry);
  if (!wf) {
    out.unsupported.push({ file, reason: `entry_point ${String(meta.entry_point)} was not found at ${entry}` });
    return;
  }
  out.covered.add(entry);
  try {
    const convert = runnerType === 'action-chain' ? convertActionChain : convertOrquesta;
    const p = convert(pack, name, meta, wf.content.toString('utf8'), entry);
    if (byPath.has(p.path) || out.generated.some((g) => g.path === p.path)) {
      out.unsupported.push({ file, reason: `converted, but the pack already holds ${p.path}: rename one of them` });
      return;
    }
    out.generated.push({ path: p.path, mode: 0o644, content: Buffer.from(p.content) });
    const refs = [...p.content.matchAll(/^\s+action: (\S+)$/gm)].map((m) => m[1]).filter((r) => !r.startsWith(`${pack}.`));
    out.warnings.push({
      file,
      line: null,
      message: `converted to the pipeline ${p.path} (run it with: stackwire pipeline run pack:${pack} ${p.path.slice(10, -4)}); review it: a step's outputs are its JSON result's fields, else its stdout${refs.length ? `; it runs ${[...new Set(refs)].join(', ')} from other packs, which must be in the catalog` : ''}`,
    });
  } catch (err) {
    if (!(err instanceof NotConvertible) && !(err instanceof YAML.YAMLError)) throw err;
    const reasons = err instanceof NotConvertible ? err.reasons : [`${entry} does not parse as YAML: ${err.message.split('\n')[0]}`];
    out.unsupported.push({ file, reason: `runner_type ${runnerType}: not converted to a pipeline: ${reasons.join('; ')}` });
  }
}

/** One parameter's schema from st2 metadata, or why a field was dropped. */
function parameter(
  runnerType: string,
  pname: string,
  raw: Record<string, unknown>,
  warn: (message: string, keys: (string | number)[]) => void,
): ParameterSchema | undefined {
  if (runnerType.startsWith('remote-shell') && REMOTE_UNSUPPORTED[pname]) {
    // Fixed to off (sudo: false …) is what Stackwire does anyway: nothing is lost.
    if (raw.immutable === true && !raw.default) return undefined;
    warn(`parameters.${pname} is ignored: ${REMOTE_UNSUPPORTED[pname]}`, ['parameters', pname]);
    return undefined;
  }
  for (const k of Object.keys(raw)) if (!PARAM_FIELDS.has(k)) warn(`parameters.${pname}.${k} is ignored (Stackwire does not use it)`, ['parameters', pname, k]);
  // A runner setting (sudo, cwd, kwarg_op, log_level …) is the runner's, never an argument of the script;
  // `env` stays, as the environment it is under st2. An action's own immutable parameter is fixed and passed.
  if ((RUNNER_PARAMETERS[runnerType] ?? []).includes(pname) && pname !== 'env') {
    if (pname === 'sudo' && raw.default === true)
      warn('parameters.sudo: true is ignored: Stackwire runs scripts as its unprivileged run user, never with sudo', ['parameters', pname]);
    else if (!(raw.immutable === true && !raw.default))
      warn(`parameters.${pname} is a setting of StackStorm's ${runnerType} runner that Stackwire does not have: ignored`, ['parameters', pname]);
    return undefined;
  }
  if (pname === 'env' && (RUNNER_PARAMETERS[runnerType] ?? []).includes('env')) {
    // The script's environment variables, as st2's runner sets them (common/argv.ts st2EnvVars).
    return {
      type: 'object',
      ...(raw.default && typeof raw.default === 'object' ? { default: raw.default } : {}),
      description: 'Environment variables for the script',
    };
  }
  const s: ParameterSchema = {};
  if (raw.type === undefined) s.type = 'string';
  else if (typeof raw.type === 'string' && TYPES.has(raw.type)) s.type = raw.type as ParameterSchema['type'];
  else {
    warn(`parameters.${pname}.type ${JSON.stringify(raw.type)} is not a JSON Schema type Stackwire keeps; the parameter is a string`, [
      'parameters',
      pname,
      'type',
    ]);
    s.type = 'string';
  }
  if (typeof raw.description === 'string') s.description = raw.description;
  if (raw.default !== undefined && raw.default !== null) {
    if (typeof raw.default === 'string' && /\{\{|\{%/.test(raw.default) && !(runnerType.endsWith('-shell-cmd') && pname === 'cmd'))
      warn(`parameters.${pname}.default is a Jinja expression (${raw.default}); it is not evaluated: give the value when running`, [
        'parameters',
        pname,
        'default',
      ]);
    else s.default = raw.default;
  }
  if (Array.isArray(raw.enum)) s.enum = raw.enum;
  if (s.type === 'array' && raw.items && typeof raw.items === 'object') {
    const items = raw.items as Record<string, unknown>;
    if (typeof items.type === 'string' && ['string', 'integer', 'number', 'boolean'].includes(items.type)) s.items = { type: items.type };
    if (Array.isArray(items.enum)) s.items = { ...s.items, enum: items.enum };
  }
  for (const k of ['minimum', 'maximum'] as const) if (typeof raw[k] === 'number') s[k] = raw[k];
  if (typeof raw.pattern === 'string') s.pattern = raw.pattern;
  if (raw.immutable === true && s.default !== undefined) {
    s.enum = [s.default];
    s.description = `${s.description ? `${s.description} ` : ''}(fixed: immutable in the pack's metadata)`;
  }
  if (raw.secret === true || (raw.secret === undefined && SECRET_NAME.test(pname))) s.secret = true;
  if ((runnerType === 'local-shell-script' || runnerType === 'remote-shell-script') && typeof raw.position === 'number') s.position = raw.position;
  else if (raw.position !== undefined)
    warn(`parameters.${pname}.position is ignored: only local-shell-script passes parameters by position`, ['parameters', pname]);
  return s;
}

/** StackStorm packs: actions/*.yaml with runner_type. Returns the actions, the files they cover, and what was not imported. */
export function importStackStorm(pack: string, files: PackFile[]): St2Import {
  const out: St2Import = { actions: [], generated: [], unsupported: [], warnings: [], covered: new Set() };
  const byPath = new Map(files.map((f) => [f.path, f]));
  // A StackStorm pack (pack.yaml, or actions/*.yaml with a runner_type): its sensors, rules and aliases are said, never silent.
  const isSt2 = byPath.has('pack.yaml') || files.some((f) => /^actions\/[^/]+\.ya?ml$/.test(f.path) && /^runner_type\s*:/m.test(f.content.toString('utf8')));
  if (!isSt2) return out;
  for (const f of files.filter((x) => /^sensors\/[^/]+\.ya?ml$/.test(x.path))) importSensor(pack, f, byPath, out);
  for (const f of files)
    for (const [re, reason] of ST2_FOLDERS)
      if (re.test(f.path) && /\.(ya?ml|py)$/.test(f.path) && !out.covered.has(f.path)) {
        out.covered.add(f.path);
        out.unsupported.push({ file: f.path, reason });
      }
  for (const name of ['config.schema.yaml', 'config.schema.yml']) {
    const f = byPath.get(name);
    // A broken schema would fail every run of the pack: it fails the ingest instead, with its line.
    if (f) parseConfigSchema(f.content.toString('utf8'), name);
  }
  for (const f of files.filter((x) => /^actions\/[^/]+\.ya?ml$/.test(x.path))) {
    const text = f.content.toString('utf8');
    const lc = new YAML.LineCounter();
    const doc = YAML.parseDocument(text, { lineCounter: lc });
    if (doc.errors.length) {
      // Metadata that does not parse is said (with its place), never skipped in silence.
      if (/^runner_type\s*:/m.test(text)) {
        const e = doc.errors[0];
        out.covered.add(f.path);
        out.unsupported.push({
          file: f.path,
          reason: `does not parse as YAML at ${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]}`,
        });
      }
      continue;
    }
    const meta = doc.toJS() as Record<string, unknown> | null;
    if (!meta || typeof meta !== 'object' || typeof meta.runner_type !== 'string') {
      // Metadata without a runner_type is said; a workflow file an action names is covered by it (below).
      const named = files.some(
        (x) => /^actions\/[^/]+\.ya?ml$/.test(x.path) && x !== f && x.content.toString('utf8').includes(f.path.slice('actions/'.length)),
      );
      if (!named && meta && typeof meta === 'object' && 'name' in meta)
        out.unsupported.push({
          file: f.path,
          reason: 'no runner_type: not an action StackStorm would register (add runner_type, or move the file out of actions/)',
        });
      continue;
    }
    out.covered.add(f.path);
    const warnings: IngestWarning[] = [];
    const warn = (message: string, keys: (string | number)[]) => warnings.push({ file: f.path, line: lineOf(doc, lc, keys), message });
    const runnerType = meta.runner_type;
    const name = typeof meta.name === 'string' ? meta.name : path.basename(f.path).replace(/\.ya?ml$/, '');
    if (runnerType === 'action-chain' || runnerType === 'orquesta') {
      convertWorkflow(pack, name, runnerType, meta, f.path, byPath, out);
      continue;
    }
    if (!RUNS.has(runnerType)) {
      out.unsupported.push({ file: f.path, reason: `runner_type ${runnerType} is not supported (${unsupportedRunner(runnerType)})` });
      continue;
    }
    if (meta.enabled === false) {
      out.unsupported.push({ file: f.path, reason: 'enabled: false in its metadata; not imported' });
      continue;
    }
    for (const k of Object.keys(meta)) if (!KNOWN_FIELDS.has(k)) warn(`${k} is ignored (Stackwire does not use it)`, [k]);
    const entry = typeof meta.entry_point === 'string' && meta.entry_point !== '' ? `actions/${meta.entry_point}` : '';
    const script = entry ? byPath.get(entry) : undefined;
    const isCmd = runnerType === 'local-shell-cmd' || runnerType === 'remote-shell-cmd';
    if (!isCmd && !script) {
      out.unsupported.push({ file: f.path, reason: `entry_point ${String(meta.entry_point)} was not found at ${entry}` });
      continue;
    }
    if (script) out.covered.add(entry);
    const properties: Record<string, ParameterSchema> = {};
    const required: string[] = [];
    let timeout = DEFAULT_TIMEOUT;
    for (const [pname, raw] of Object.entries((meta.parameters ?? {}) as Record<string, Record<string, unknown>>)) {
      if (!raw || typeof raw !== 'object') continue;
      if (pname === 'timeout' && typeof raw.default === 'number') {
        timeout = raw.default;
        continue;
      }
      const s = parameter(runnerType, pname, raw, warn);
      if (!s) continue;
      properties[pname] = s;
      if (raw.required === true && s.default === undefined) required.push(pname);
    }
    if (runnerType.startsWith('remote-shell')) {
      // st2's runner parameters exist whether the action declares them or not.
      for (const [pname, { required: req, ...s }] of Object.entries(REMOTE_RUNNER))
        if (!(pname in properties)) {
          properties[pname] = s;
          if (req) required.push(pname);
        }
      if (runnerType === 'remote-shell-cmd' && !properties.cmd) {
        properties.cmd = { type: 'string', description: 'The command, run by the remote shell ({{ parameter }} templates)' };
        required.push('cmd');
      }
    }
    if (isCmd) {
      const cmd = properties.cmd;
      if (!cmd) {
        out.unsupported.push({ file: f.path, reason: 'a local-shell-cmd action without a cmd parameter has nothing to run' });
        continue;
      }
      if (typeof cmd.default === 'string')
        for (const ref of cmdTemplateRefs(cmd.default))
          if (!(ref in properties))
            warn(`parameters.cmd refers to {{ ${ref} }}, which is not a parameter of the action: the run fails until it is`, ['parameters', 'cmd', 'default']);
    }
    const parameters: ActionParameters = {
      type: 'object',
      properties,
      required,
      additionalProperties: false,
      // Named parameters become --name=value the way StackStorm builds them (see common/argv.ts st2Args).
      ...(runnerType === 'local-shell-script' ? { st2Args: true } : {}),
      ...('env' in properties && !runnerType.startsWith('remote-shell') ? { st2Env: true } : {}),
      ...(runnerType === 'local-shell-cmd' ? { st2Cmd: true } : {}),
      ...(runnerType === 'remote-shell-cmd' ? { st2Remote: 'cmd' as const } : runnerType === 'remote-shell-script' ? { st2Remote: 'script' as const } : {}),
    };
    out.warnings.push(...warnings);
    out.actions.push({
      name: `${pack}.${st2LocalName(name)}`,
      pack,
      description: typeof meta.description === 'string' ? meta.description : '',
      runner: runnerType === 'python-script' ? 'st2-python' : runnerType.startsWith('remote-shell') ? 'st2-remote' : 'exec',
      entryPoint: runnerType === 'python-script' || runnerType === 'remote-shell-script' ? entry : isCmd ? '' : `./${entry}`,
      parameters,
      timeoutSeconds: timeout,
      maxAttempts: 1,
      contentHash: hash(script?.content ?? '', f.content),
      sourcePath: script ? entry : f.path,
      origin: 'stackstorm',
      warnings,
      framework: `stackstorm:${runnerType}`,
    });
  }
  return out;
}
