/**
 * Parameters → argv, exactly as a human would call the script. Pure, no shell anywhere:
 * every value is one argv element, so `x; rm -rf /` reaches the script as one literal string.
 */
import type { ActionSpec, Runner } from './types.js';

const INTERPRETERS: Record<Runner, string[]> = {
  python: ['python3'],
  shell: ['bash'],
  node: ['node'],
  exec: [],
};

function scalar(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The argument list after the script path. */
export function buildArgs(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): string[] {
  const props = action.parameters.properties;
  const positional: { position: number; values: string[] }[] = [];
  const flags: string[] = [];
  for (const [name, schema] of Object.entries(props)) {
    const value = params[name];
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? value.map(scalar) : [scalar(value)];
    if (schema.position !== undefined) {
      positional.push({ position: schema.position, values });
      continue;
    }
    const flag = schema.flag ?? `--${name.replace(/_/g, '-')}`;
    if (schema.type === 'boolean') {
      if (value === true) flags.push(flag);
      continue;
    }
    for (const v of values) flags.push(flag, v);
  }
  positional.sort((a, b) => a.position - b.position);
  // Flags first, then `--`-free positionals: the order argparse, getopts and click all accept.
  return [...flags, ...positional.flatMap((p) => p.values)];
}

/** The whole command: interpreter, script path (relative to the pack folder), arguments. */
export function buildArgv(action: Pick<ActionSpec, 'parameters' | 'runner' | 'entryPoint'>, params: Record<string, unknown>): string[] {
  return [...INTERPRETERS[action.runner], action.entryPoint, ...buildArgs(action, params)];
}

export const MASK = '********';

/** A copy of the parameters with every secret replaced by a mask: what logs, rows and history may hold. */
export function maskParameters(action: Pick<ActionSpec, 'parameters'>, params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = action.parameters.properties[k]?.secret ? MASK : v;
  return out;
}

/** argv with the values of secret parameters masked, for display. */
export function maskArgv(action: Pick<ActionSpec, 'parameters' | 'runner' | 'entryPoint'>, params: Record<string, unknown>): string[] {
  const secrets = Object.entries(action.parameters.properties).filter(([, s]) => s.secret).map(([k]) => k);
  if (secrets.length === 0) return buildArgv(action, params);
  const masked = { ...params };
  for (const k of secrets) if (masked[k] !== undefined) masked[k] = MASK;
  return buildArgv(action, masked);
}
