/**
 * Parameter checking before anything runs: JSON Schema (Ajv) plus Stackwire's argv keywords.
 * Errors name the parameter, the problem and what is allowed.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { st2CmdPlan } from './argv.js';
import { cmdTemplateRefs } from './st2-cmd.js';
import type { ActionParameters, ActionSpec, ParameterSchema } from './types.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, coerceTypes: false });
ajv.addKeyword({ keyword: 'position', schemaType: 'number' });
ajv.addKeyword({ keyword: 'flag', schemaType: 'string' });
ajv.addKeyword({ keyword: 'secret', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'count', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'flagFalse', schemaType: 'string' });
ajv.addKeyword({ keyword: 'spread', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'scope', schemaType: 'string' });
ajv.addKeyword({ keyword: 'exclusive', schemaType: 'array' });
ajv.addKeyword({ keyword: 'endOfOptions', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'st2Args', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'st2Cmd', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'st2Remote', schemaType: 'string' });
ajv.addKeyword({ keyword: 'st2Sensor', schemaType: 'object' });
ajv.addKeyword({ keyword: 'st2Env', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'oneRequired', schemaType: 'array' });

export interface ParameterProblem {
  parameter: string;
  message: string;
}

export class ParameterError extends Error {
  override name = 'ParameterError';
  constructor(
    readonly action: string,
    readonly problems: ParameterProblem[],
  ) {
    super(
      `invalid parameters for ${action}:\n${problems.map((p) => `  - ${p.parameter}: ${p.message}`).join('\n')}\nRun 'stackwire action show ${action}' for the parameter list.`,
    );
  }
}

function describe(err: ErrorObject, schema: ActionParameters): ParameterProblem {
  const fromPath = err.instancePath.replace(/^\//, '').split('/')[0] ?? '';
  switch (err.keyword) {
    case 'required': {
      const p = (err.params as { missingProperty: string }).missingProperty;
      return { parameter: p, message: `is required${schema.properties[p]?.description ? ` (${schema.properties[p].description})` : ''}` };
    }
    case 'additionalProperties': {
      const p = (err.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(schema.properties);
      return { parameter: p, message: `is not a parameter of this action; known parameters: ${known.length ? known.join(', ') : '(none)'}` };
    }
    case 'enum': {
      const allowed = (err.params as { allowedValues: unknown[] }).allowedValues;
      return { parameter: fromPath, message: `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}` };
    }
    default:
      return { parameter: fromPath || '(parameters)', message: err.message ?? 'is invalid' };
  }
}

type Validator = ReturnType<typeof ajv.compile>;
/**
 * Compiled validators by schema text: an activity's action arrives as a new object each time, so by
 * object alone every run compiled its schema again (0.6 ms a step) and Ajv's own cache, keyed by the
 * schema object, grew with every run. The least recently used beyond MAX_COMPILED are dropped from both.
 */
const byObject = new WeakMap<ActionParameters, Validator>();
const byText = new Map<string, { schema: ActionParameters; validate: Validator }>();
const MAX_COMPILED = 1000;

function validatorOf(parameters: ActionParameters): Validator {
  const known = byObject.get(parameters);
  if (known) return known;
  const key = JSON.stringify(parameters);
  let entry = byText.get(key);
  if (entry)
    byText.delete(key); // set again below: the most recently used last
  else entry = { schema: parameters, validate: ajv.compile(parameters) };
  byText.set(key, entry);
  if (byText.size > MAX_COMPILED) {
    const [oldestKey, oldest] = byText.entries().next().value as [string, { schema: ActionParameters }];
    byText.delete(oldestKey);
    ajv.removeSchema(oldest.schema);
  }
  byObject.set(parameters, entry.validate);
  return entry.validate;
}

/** Validates, applies defaults, and returns a new object. Throws ParameterError. */
export function validateParameters(action: Pick<ActionSpec, 'name' | 'parameters'>, input: unknown): Record<string, unknown> {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ParameterError(action.name, [{ parameter: '(parameters)', message: 'must be an object of name → value' }]);
  }
  const validate = validatorOf(action.parameters);
  const given = Object.keys(input as object);
  const copy = structuredClone(input) as Record<string, unknown>;
  const problems: ParameterProblem[] = [];
  if (!validate(copy)) problems.push(...(validate.errors ?? []).map((e) => describe(e, action.parameters)));
  for (const group of action.parameters.exclusive ?? []) {
    const both = group.filter((p) => given.includes(p));
    if (both.length > 1)
      problems.push({ parameter: both.join(', '), message: `cannot be given together (the script accepts only one of ${group.join(', ')})` });
    // A default of a mutually exclusive option is the script's own business: passing it next to the
    // member the caller chose would make the script refuse the pair.
    for (const p of group) if (!given.includes(p)) delete copy[p];
  }
  for (const group of action.parameters.oneRequired ?? []) {
    if (!group.some((p) => given.includes(p)))
      problems.push({ parameter: group.join(', '), message: `one of them is required (the script needs exactly one of ${group.join(', ')})` });
  }
  if (problems.length === 0 && action.parameters.st2Remote === 'cmd') {
    try {
      const unknown = cmdTemplateRefs(typeof copy.cmd === 'string' ? copy.cmd : '').filter((r) => !(r in action.parameters.properties));
      if (unknown.length)
        problems.push({ parameter: 'cmd', message: `refers to ${unknown.map((u) => `{{ ${u} }}`).join(', ')}, not parameters of the action` });
    } catch (err) {
      problems.push({ parameter: 'cmd', message: (err as Error).message });
    }
  }
  if (problems.length === 0 && action.parameters.st2Cmd) {
    const plan = st2CmdPlan(action, copy);
    if ('error' in plan) problems.push({ parameter: 'cmd', message: plan.error });
  }
  if (problems.length) throw new ParameterError(action.name, problems);
  return copy;
}

/** Checks that a parameter schema itself is usable (used when actions are registered). */
export function compileCheck(schema: ActionParameters): void {
  ajv.compile(schema);
}

/** CLI helper: turn `key=value` strings into typed values using the action's schema. */
export function coerceFromStrings(action: Pick<ActionSpec, 'name' | 'parameters'>, pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const problems: ParameterProblem[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      problems.push({ parameter: pair, message: `is not key=value; write e.g. ${Object.keys(action.parameters.properties)[0] ?? 'name'}=value` });
      continue;
    }
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    const schema: ParameterSchema | undefined = action.parameters.properties[key];
    if (!schema) {
      out[key] = raw; // let validation report it with the list of known parameters
      continue;
    }
    const converted = convert(raw, schema.type, schema.items?.type);
    if (converted.error) problems.push({ parameter: key, message: converted.error });
    else if (schema.type === 'array' && Array.isArray(out[key]) && !raw.startsWith('[')) (out[key] as unknown[]).push(...(converted.value as unknown[]));
    else out[key] = converted.value;
  }
  if (problems.length) throw new ParameterError(action.name, problems);
  return out;
}

/** One key=value string as the schema type says (integer, number, boolean, array as JSON or a comma list, object as JSON). */
export function convert(raw: string, type: string | undefined, itemType?: string): { value?: unknown; error?: string } {
  switch (type) {
    case 'integer':
      return /^-?\d+$/.test(raw) ? { value: Number(raw) } : { error: `must be an integer (got ${JSON.stringify(raw)})` };
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? { value: Number(raw) } : { error: `must be a number (got ${JSON.stringify(raw)})` };
    case 'boolean':
      if (/^(true|yes|1|on)$/i.test(raw)) return { value: true };
      if (/^(false|no|0|off)$/i.test(raw)) return { value: false };
      return { error: `must be true or false (got ${JSON.stringify(raw)})` };
    case 'object': {
      try {
        const v: unknown = JSON.parse(raw);
        return v !== null && typeof v === 'object' && !Array.isArray(v) ? { value: v } : { error: `must be a JSON object, e.g. '{"key": "value"}'` };
      } catch {
        return { error: `is not valid JSON (got ${JSON.stringify(raw)}); an object parameter is given as JSON, e.g. '{"key": "value"}'` };
      }
    }
    case 'array': {
      if (raw.startsWith('[')) {
        try {
          const v: unknown = JSON.parse(raw);
          return Array.isArray(v) ? { value: v } : { error: 'must be a JSON array or a comma-separated list' };
        } catch {
          return { error: `is not valid JSON (got ${JSON.stringify(raw)})` };
        }
      }
      const items = raw === '' ? [] : raw.split(',');
      const converted = items.map((i) => convert(i, itemType));
      const bad = converted.find((c) => c.error);
      return bad ? { error: `item ${bad.error}` } : { value: converted.map((c) => c.value) };
    }
    default:
      return { value: raw };
  }
}
