/**
 * Secret parameters never travel in clear text through Temporal: the API seals them with
 * AES-256-GCM before a workflow starts, and only the activity that runs the script unseals them.
 * Workflow history, memo and Postgres hold the sealed value or a mask. (On top of this, every
 * Temporal payload is encrypted as a whole by lib/payload-codec.ts; the seal keeps the value closed
 * inside workflow code and on any path that decodes payloads, such as the codec endpoint.)
 */
import crypto from 'node:crypto';
import { MASK } from '../common/argv.js';
import type { ActionSpec } from '../common/types.js';

const PREFIX = 'v1:';

export interface Sealed {
  $sealed: string;
}

export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

export function isSealed(v: unknown): v is Sealed {
  return typeof v === 'object' && v !== null && typeof (v as Sealed).$sealed === 'string';
}

export function newSecretKey(): string {
  return crypto.randomBytes(32).toString('base64');
}

export function seal(value: unknown, key: Buffer): Sealed {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { $sealed: PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64') };
}

/**
 * Opens a sealed value with the current key or, after a rotation, one of the old keys
 * (STACKWIRE_OLD_SECRET_KEYS): GCM's tag tells which key sealed it. The v1 format is unchanged.
 */
export function unseal(s: Sealed, keys: Buffer | Buffer[]): unknown {
  if (!s.$sealed.startsWith(PREFIX)) throw new SecretKeyError('a sealed parameter has an unknown format');
  const raw = Buffer.from(s.$sealed.slice(PREFIX.length), 'base64');
  for (const key of Array.isArray(keys) ? keys : [keys]) {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    let clear: Buffer;
    try {
      clear = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
    } catch {
      continue; // not this key
    }
    return JSON.parse(clear.toString('utf8')) as unknown;
  }
  throw new SecretKeyError(
    "a sealed parameter cannot be opened with this worker's STACKWIRE_SECRET_KEY nor any of STACKWIRE_OLD_SECRET_KEYS; every API and worker process must share the same key, and keep the previous one in STACKWIRE_OLD_SECRET_KEYS after a rotation",
  );
}

function secretNames(action: Pick<ActionSpec, 'parameters'>): string[] {
  return Object.entries(action.parameters.properties)
    .filter(([, s]) => s.secret)
    .map(([k]) => k);
}

/** Seals the values of the action's secret parameters. Throws when there are some and no key. */
export function sealSecrets(
  action: Pick<ActionSpec, 'name' | 'parameters'>,
  params: Record<string, unknown>,
  key: Buffer | undefined,
): Record<string, unknown> {
  // Already sealed values stay as they are (sealing twice would hand the script a sealed blob).
  const names = secretNames(action).filter((k) => params[k] !== undefined && !isSealed(params[k]));
  if (names.length === 0) return params;
  if (!key)
    throw new SecretKeyError(
      `${action.name} has secret parameters (${names.join(', ')}) but STACKWIRE_SECRET_KEY is not set, so they cannot be sealed. Set it (32 random bytes, base64) for the API and every worker.`,
    );
  const out = { ...params };
  for (const k of names) out[k] = seal(out[k], key);
  return out;
}

export function unsealSecrets(params: Record<string, unknown>, key: Buffer | undefined, oldKeys: Buffer[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (!isSealed(v)) out[k] = v;
    else if (!key) throw new SecretKeyError(`parameter ${k} is sealed but this worker has no STACKWIRE_SECRET_KEY`);
    else out[k] = unseal(v, [key, ...oldKeys]);
  }
  return out;
}

/** Replaces every occurrence of a secret value in text (script output) with the mask. */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join(MASK);
  return out;
}

/** The clear values of secret parameters, as strings, longest first (so overlaps mask fully). */
export function secretValues(action: Pick<ActionSpec, 'parameters'>, clear: Record<string, unknown>): string[] {
  return secretNames(action)
    .flatMap((k) => {
      const v = clear[k];
      if (v === undefined || v === null) return [];
      return Array.isArray(v) ? v.map(String) : [typeof v === 'string' ? v : JSON.stringify(v)];
    })
    .sort((a, b) => b.length - a.length);
}
