/**
 * A StackStorm pack's configuration: `config.schema.yaml` (each key's type, description, default,
 * required, secret, nested properties) and the values an operator sets (`stackwire pack config`).
 * The worker resolves them at run time into the `config` an action's class receives: defaults
 * applied, required keys checked, types validated. README: Importing StackStorm packs.
 */
import { Ajv } from 'ajv';
import YAML from 'yaml';

export class ConfigSchemaError extends Error {
  override name = 'ConfigSchemaError';
}

export interface ConfigProperty {
  type?: string;
  description?: string;
  default?: unknown;
  required?: boolean;
  secret?: boolean;
  [k: string]: unknown;
}

export interface ConfigSchema {
  properties: Record<string, ConfigProperty>;
  /** The JSON Schema the values are checked against (st2's draft-3 `required: true` turned into lists). */
  jsonSchema: Record<string, unknown>;
}

const TYPES = ['string', 'integer', 'number', 'boolean', 'array', 'object', 'null'];
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

function toJsonSchema(props: Record<string, unknown>, where: string, at: (keys: string[]) => string): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, raw] of Object.entries(props)) {
    const here = `${where}${name}`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigSchemaError(`${at(here.split('.'))}: ${here} must be a mapping with at least a type (e.g. type: string)`);
    const p = { ...(raw as Record<string, unknown>) };
    const types = Array.isArray(p.type) ? p.type : p.type === undefined ? [] : [p.type];
    for (const t of types)
      if (typeof t !== 'string' || !TYPES.includes(t))
        throw new ConfigSchemaError(`${at([...here.split('.'), 'type'])}: ${here}.type ${JSON.stringify(t)} is not one of ${TYPES.join(', ')}`);
    for (const k of ['required', 'secret'])
      if (p[k] !== undefined && typeof p[k] !== 'boolean') throw new ConfigSchemaError(`${at([...here.split('.'), k])}: ${here}.${k} must be true or false`);
    if (p.required === true) required.push(name);
    delete p.required;
    delete p.secret;
    if (p.properties && typeof p.properties === 'object') {
      const nested = toJsonSchema(p.properties as Record<string, unknown>, `${here}.properties.`, at);
      p.properties = nested.properties;
      if ((nested.required as string[]).length) p.required = nested.required;
      // An object with defaults inside gets an empty default, so its inner defaults apply.
      if (p.default === undefined && Object.values(nested.properties as object).some((x) => (x as ConfigProperty).default !== undefined)) p.default = {};
    }
    properties[name] = p;
  }
  return { type: 'object', properties, required };
}

/** Parses and checks a config.schema.yaml; every problem names the file, line and column. */
export function parseConfigSchema(text: string, file = 'config.schema.yaml'): ConfigSchema {
  const doc = YAML.parseDocument(text);
  if (doc.errors.length) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new ConfigSchemaError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${e.message}`);
  }
  const lc = new YAML.LineCounter();
  YAML.parseDocument(text, { lineCounter: lc });
  const at = (keys: string[]): string => {
    for (let n = keys.length; n > 0; n--) {
      const node = doc.getIn(keys.slice(0, n), true) as YAML.Node | undefined;
      if (node?.range) {
        const { line, col } = lc.linePos(node.range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return file;
  };
  const raw = (doc.toJS() ?? {}) as unknown;
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null)
    throw new ConfigSchemaError(`${file}: must be a mapping of config key → {type, description, default, required, secret}`);
  const jsonSchema = toJsonSchema(raw as Record<string, unknown>, '', at);
  try {
    ajv.compile(jsonSchema);
  } catch (err) {
    throw new ConfigSchemaError(`${file}: not a usable schema: ${(err as Error).message}`);
  }
  return { properties: raw as Record<string, ConfigProperty>, jsonSchema };
}

/** The top-level keys marked secret: their values are sealed at rest and masked in output. */
export function secretKeys(schema: ConfigSchema | undefined): string[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([, p]) => p.secret === true)
    .map(([k]) => k);
}

export interface ResolvedConfig {
  config: Record<string, unknown>;
  /** Each problem as "key: what is wrong"; a run cannot start with any. */
  problems: string[];
}

/** Values as set, with the schema's defaults applied and checked (required keys, types). */
export function resolveConfig(schema: ConfigSchema | undefined, values: Record<string, unknown>): ResolvedConfig {
  const config = structuredClone(values);
  if (!schema) return { config, problems: [] };
  const validate = ajv.compile(schema.jsonSchema);
  if (validate(config)) return { config, problems: [] };
  const problems = (validate.errors ?? []).map((e) => {
    const key = [
      e.instancePath.replace(/^\//, '').replace(/\//g, '.'),
      e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : '',
    ]
      .filter(Boolean)
      .join('.');
    return e.keyword === 'required' ? `${key}: is required and has no value` : `${key || '(config)'}: ${e.message ?? 'is invalid'}`;
  });
  return { config, problems };
}

/**
 * Config keys any pack may set, declared in its schema or not: the SSH identity and known hosts of its
 * remote-shell actions. ssh_private_key is always secret.
 */
export const SSH_CONFIG_KEYS: Record<string, ConfigProperty> = {
  ssh_username: { type: 'string', description: 'the SSH user of remote-shell actions' },
  ssh_private_key: { type: 'string', secret: true, description: 'the SSH private key of remote-shell actions (sealed)' },
  ssh_known_hosts: { type: 'string', description: 'known_hosts lines of the hosts remote-shell actions reach (host keys are always checked)' },
  ssh_port: { type: 'integer', description: 'the SSH port of remote-shell actions (default 22)' },
};
