/**
 * StackStorm sensors in a pack (sensors/*.yaml): each becomes an action that runs its class in the
 * shim's --sensor mode, to be started as a script sensor (README: Importing StackStorm packs).
 */
import crypto from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import type { PackFile } from '../db/packs.js';
import type { St2Import } from './types.js';

const DEFAULT_TIMEOUT = 600;

function hash(...parts: (Buffer | string)[]): string {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/**
 * A StackStorm sensor (sensors/<name>.yaml: class_name, entry_point, poll_interval, trigger_types)
 * becomes an action that runs the class as a script sensor (the shim's --sensor mode): each dispatch()
 * is an event {trigger, payload}. The operator starts it with `stackwire sensor create`.
 */
export function importSensor(pack: string, f: PackFile, byPath: Map<string, PackFile>, out: St2Import): void {
  let meta: Record<string, unknown>;
  try {
    meta = (YAML.parse(f.content.toString('utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    out.covered.add(f.path);
    out.unsupported.push({ file: f.path, reason: `does not parse as YAML: ${(err as Error).message.split('\n')[0]}` });
    return;
  }
  if (typeof meta.class_name !== 'string' || typeof meta.entry_point !== 'string') return;
  out.covered.add(f.path);
  const entry = `sensors/${meta.entry_point}`;
  const script = byPath.get(entry);
  if (!script) {
    out.unsupported.push({ file: f.path, reason: `entry_point ${meta.entry_point} was not found at ${entry}` });
    return;
  }
  out.covered.add(entry);
  if (meta.enabled === false) {
    out.unsupported.push({ file: f.path, reason: 'enabled: false in its metadata; not imported' });
    return;
  }
  const base = path
    .basename(f.path)
    .replace(/\.ya?ml$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_');
  const name = `${pack}.sensor_${base}`;
  const interval = typeof meta.poll_interval === 'number' && meta.poll_interval >= 1 ? Math.round(meta.poll_interval) : 60;
  const triggers = (Array.isArray(meta.trigger_types) ? (meta.trigger_types as Record<string, unknown>[]) : [])
    .map((t) => (typeof t?.name === 'string' ? `${pack}.${t.name}` : ''))
    .filter(Boolean);
  out.actions.push({
    name,
    pack,
    description: `${typeof meta.description === 'string' ? `${meta.description.trim()} ` : ''}(StackStorm sensor ${meta.class_name}: run it with stackwire sensor create <name> --kind script --action ${name})`,
    runner: 'st2-python',
    entryPoint: entry,
    parameters: {
      type: 'object',
      properties: { poll_interval: { type: 'integer', minimum: 1, default: interval, description: 'Seconds between polls (a PollingSensor)' } },
      required: [],
      additionalProperties: false,
      st2Sensor: { className: meta.class_name, pollInterval: interval },
    },
    timeoutSeconds: DEFAULT_TIMEOUT,
    maxAttempts: 1,
    contentHash: hash(script.content, f.content),
    sourcePath: entry,
    origin: 'stackstorm',
    warnings: [],
    framework: 'stackstorm:sensor',
  });
  out.warnings.push({
    file: f.path,
    line: null,
    message: `the sensor ${meta.class_name} is imported as the action ${name}: start it with stackwire sensor create <name> --kind script --action ${name}; its events are sensor.<name> with {trigger, payload}${triggers.length ? `; convert the rules on ${triggers.join(', ')} with stackwire rule import <pack>/rules --sensor ${triggers[0]}=<name>` : ''}`,
  });
}
