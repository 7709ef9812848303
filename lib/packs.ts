/**
 * Loads a pack's hand-written action metadata (StackStorm-shaped YAML, one file per action under
 * `<pack>/actions/`) into ActionSpecs. Every problem names the file, the field and the fix;
 * nothing is registered unless every file is valid.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { compileCheck } from '../common/parameters.js';
import type { ActionParameters, ActionSpec, ParameterSchema, Runner } from '../common/types.js';
import { PACK_NAME, SECRET_NAME } from '../common/validation.js';

export class PackError extends Error {
  override name = 'PackError';
}

const RUNNERS: Runner[] = ['python', 'shell', 'node', 'exec'];
const PARAM_KEYS = new Set(['type', 'description', 'default', 'enum', 'items', 'minimum', 'maximum', 'pattern', 'secret', 'position', 'flag', 'required']);

function fail(file: string, field: string, msg: string): never {
  throw new PackError(`${file}: ${field}: ${msg}`);
}

function hashFile(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export function loadPack(packDir: string): { pack: string; actions: Omit<ActionSpec, 'version'>[] } {
  const dir = path.resolve(packDir);
  const actionsDir = path.join(dir, 'actions');
  if (!fs.existsSync(actionsDir)) throw new PackError(`${dir}: no actions/ folder. A pack holds one YAML file per action in actions/.`);
  const pack = path.basename(dir);
  if (!PACK_NAME.test(pack)) throw new PackError(`${dir}: pack name ${JSON.stringify(pack)} must be lower-case letters, digits, _ or -.`);
  const files = fs
    .readdirSync(actionsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const out: Omit<ActionSpec, 'version'>[] = [];
  for (const f of files) {
    const file = path.join(actionsDir, f);
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
    if (doc.errors.length) {
      const e = doc.errors[0];
      const pos = e.linePos?.[0];
      throw new PackError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${e.message}`);
    }
    const meta = doc.toJS() as Record<string, unknown> | null;
    if (!meta || typeof meta !== 'object') fail(file, '(file)', 'must be a YAML mapping with name, runner, entry_point and parameters');
    const name = meta.name;
    if (typeof name !== 'string' || !PACK_NAME.test(name)) fail(file, 'name', 'must be lower-case letters, digits, _ or - (the pack name is added in front)');
    const runner = meta.runner as Runner;
    if (!RUNNERS.includes(runner)) fail(file, 'runner', `must be one of ${RUNNERS.join(', ')}`);
    const entry = meta.entry_point;
    if (typeof entry !== 'string' || entry.startsWith('/') || entry.split('/').includes('..'))
      fail(file, 'entry_point', 'must be a path inside the pack folder');
    const script = path.join(dir, entry);
    if (!fs.existsSync(script)) fail(file, 'entry_point', `${script} does not exist`);
    const timeout = meta.timeout ?? 600;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1) fail(file, 'timeout', 'must be a whole number of seconds, at least 1');
    const attempts = meta.max_attempts ?? 1;
    if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1) fail(file, 'max_attempts', 'must be a whole number, at least 1');
    const region = meta.region;
    if (region !== undefined && typeof region !== 'string') fail(file, 'region', 'must be a region name');
    const idempotent = meta.idempotent ?? false;
    if (typeof idempotent !== 'boolean') fail(file, 'idempotent', 'must be true or false (true: running it twice does no harm)');
    const params = (meta.parameters ?? {}) as Record<string, Record<string, unknown>>;
    if (typeof params !== 'object' || Array.isArray(params)) fail(file, 'parameters', 'must be a mapping of name → schema');
    const properties: Record<string, ParameterSchema> = {};
    const required: string[] = [];
    const positions = new Set<number>();
    for (const [pname, pschema] of Object.entries(params)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(pname)) fail(file, `parameters.${pname}`, 'parameter names are letters, digits and _');
      if (!pschema || typeof pschema !== 'object') fail(file, `parameters.${pname}`, 'must be a mapping with at least a type');
      for (const k of Object.keys(pschema))
        if (!PARAM_KEYS.has(k)) fail(file, `parameters.${pname}.${k}`, `unknown key; allowed: ${[...PARAM_KEYS].join(', ')}`);
      const { required: req, ...schema } = pschema;
      if (req === true) required.push(pname);
      if (typeof schema.position === 'number') {
        if (positions.has(schema.position)) fail(file, `parameters.${pname}.position`, `position ${schema.position} is used twice`);
        positions.add(schema.position);
      }
      if (SECRET_NAME.test(pname) && schema.secret === undefined) schema.secret = true;
      properties[pname] = schema;
    }
    const parameters: ActionParameters = { type: 'object', properties, required, additionalProperties: false };
    try {
      compileCheck(parameters);
    } catch (err) {
      fail(file, 'parameters', `not a valid JSON Schema: ${(err as Error).message}`);
    }
    out.push({
      name: `${pack}.${name}`,
      pack,
      description: typeof meta.description === 'string' ? meta.description.trim() : '',
      runner,
      entryPoint: entry,
      packDir: dir,
      parameters,
      timeoutSeconds: timeout,
      maxAttempts: attempts,
      ...(idempotent ? { idempotent } : {}),
      ...(region ? { region } : {}),
      contentHash: crypto.createHash('sha256').update(hashFile(script)).update(fs.readFileSync(file)).digest('hex'),
      sourcePath: entry,
      origin: 'metadata',
    });
  }
  return { pack, actions: out };
}
