/**
 * A pipeline run's inputs: checked against the ones the definition declares (unknown names, required
 * ones, types, enums; defaults applied), and read from the CLI's key=value pairs. README: Pipelines.
 */
import type { PipelineDef, PipelineInput } from '../common/pipeline.js';
import { closest } from './pipeline-schema-errors.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const suggestion = (name: string, known: Iterable<string>) => {
  const c = closest(name, known);
  return c ? ` (did you mean ${JSON.stringify(c)}?)` : '';
};

/** What is wrong with a value for an input (its type, its enum), or undefined. */
export function inputValueProblem(input: Pick<PipelineInput, 'type' | 'enum'>, v: unknown): string | undefined {
  const ok =
    input.type === 'string'
      ? typeof v === 'string'
      : input.type === 'number'
        ? typeof v === 'number' && Number.isFinite(v)
        : input.type === 'boolean'
          ? typeof v === 'boolean'
          : input.type === 'list'
            ? Array.isArray(v)
            : isObj(v);
  if (!ok)
    return `must be ${{ string: 'a string', number: 'a number', boolean: 'true or false', list: 'a list', object: 'an object' }[input.type]} (it is ${JSON.stringify(v)})`;
  if (input.enum && !input.enum.includes(v as string))
    return `must be one of ${input.enum.map((e) => JSON.stringify(e)).join(', ')} (it is ${JSON.stringify(v)})`;
  return undefined;
}

/** A run's inputs against the declared ones: unknown names, required ones, types and enums; defaults applied. */
export function checkPipelineInputs(def: PipelineDef, given: Record<string, unknown>): { values: Record<string, unknown>; problems: string[] } {
  const declared = def.inputs ?? {};
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [k, v] of Object.entries(given)) {
    if (!Object.hasOwn(declared, k)) {
      const names = Object.keys(declared);
      problems.push(`input ${k} is not declared by pipeline ${def.name}${suggestion(k, names)}; its inputs: ${names.join(', ') || '(none)'}`);
    } else {
      const problem = inputValueProblem(declared[k], v);
      if (problem) problems.push(`input ${k} ${problem}`);
      else values[k] = v;
    }
  }
  for (const [k, input] of Object.entries(declared)) {
    if (Object.hasOwn(given, k)) continue;
    if (input.default !== undefined) values[k] = structuredClone(input.default);
    else if (input.required) problems.push(`input ${k} is required${input.description ? ` (${input.description})` : ''}; give it as ${k}=…`);
  }
  return { values, problems };
}

/** The CLI's key=value pairs as typed inputs: number, boolean, list (JSON or a comma list; repeated keys add up), object (JSON). */
export function inputsFromPairs(def: PipelineDef, pairs: string[]): { values: Record<string, unknown>; problems: string[] } {
  const declared = def.inputs ?? {};
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      problems.push(`${JSON.stringify(pair)} is not key=value; write e.g. ${Object.keys(declared)[0] ?? 'name'}=value`);
      continue;
    }
    const [k, raw] = [pair.slice(0, eq), pair.slice(eq + 1)];
    const type = declared[k]?.type;
    if (!type) {
      const names = Object.keys(declared);
      problems.push(`input ${k} is not declared by pipeline ${def.name}${suggestion(k, names)}; its inputs: ${names.join(', ') || '(none)'}`);
      continue;
    }
    const json = (want: 'list' | 'object'): unknown => {
      try {
        const v: unknown = JSON.parse(raw);
        if (want === 'list' ? Array.isArray(v) : isObj(v)) return v;
      } catch {
        // reported below
      }
      problems.push(`input ${k} must be ${want === 'list' ? 'a JSON array or a comma-separated list' : 'a JSON object'} (got ${JSON.stringify(raw)})`);
      return undefined;
    };
    if (type === 'number') {
      if (raw.trim() !== '' && Number.isFinite(Number(raw))) values[k] = Number(raw);
      else problems.push(`input ${k} must be a number (got ${JSON.stringify(raw)})`);
    } else if (type === 'boolean') {
      if (/^(true|yes|1|on)$/i.test(raw)) values[k] = true;
      else if (/^(false|no|0|off)$/i.test(raw)) values[k] = false;
      else problems.push(`input ${k} must be true or false (got ${JSON.stringify(raw)})`);
    } else if (type === 'list') {
      const v = raw.startsWith('[') ? json('list') : raw === '' ? [] : raw.split(',').map((x) => x.trim());
      if (Array.isArray(v)) values[k] = Array.isArray(values[k]) && !raw.startsWith('[') ? [...(values[k] as unknown[]), ...(v as unknown[])] : v;
    } else if (type === 'object') {
      const v = json('object');
      if (v !== undefined) values[k] = v;
    } else values[k] = raw;
  }
  return { values, problems };
}
