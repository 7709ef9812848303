/**
 * API key material. A key is `swk_<id>_<secret>`: the id finds the row, the secret is checked
 * against a salted scrypt hash with a constant-time compare. The key is shown once, never stored.
 */
import crypto from 'node:crypto';

const KEY_RE = /^swk_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  id: string;
  key: string;
  salt: Buffer;
  hash: Buffer;
}

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => crypto.scrypt(secret, salt, 32, { N: 16384, r: 8, p: 1 }, (err, out) => (err ? reject(err) : resolve(out))));
}

export async function newApiKey(): Promise<NewKey> {
  const id = crypto.randomBytes(8).toString('hex');
  const secret = crypto.randomBytes(32).toString('base64url');
  const salt = crypto.randomBytes(16);
  return { id, key: `swk_${id}_${secret}`, salt, hash: await scrypt(secret, salt) };
}

/** The id and secret of a presented key, or undefined when it is not shaped like one. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = KEY_RE.exec(key);
  return m ? { id: m[1], secret: m[2] } : undefined;
}

export async function secretMatches(secret: string, salt: Buffer, hash: Buffer): Promise<boolean> {
  const got = await scrypt(secret, salt);
  return got.length === hash.length && crypto.timingSafeEqual(got, hash);
}

/** `90d`, `12h`, `30m`, `45s` → seconds; `never` → null. */
export function parseDuration(s: string): number | null | undefined {
  if (s === 'never') return null;
  const m = /^(\d{1,6})([smhd])$/.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}
