/**
 * Browser sessions for the Temporal Web UI served through the API (/ui) and its codec endpoint: a
 * browser cannot send `Authorization: Bearer`, so a key holder signs in once (a one-time link from
 * `stackwire ui`, or the key pasted into /api/v1/ui/login) and gets a cookie.
 *
 * Tokens are stateless and signed (HMAC-SHA256 with a key derived from STACKWIRE_SECRET_KEY by HKDF,
 * so the payload key itself never signs anything). A token names the API key it stands for; every
 * request reads that key's row again, so revoking or expiring the key ends its sessions at once.
 * Login codes live two minutes and are accepted once per API process.
 */
import crypto from 'node:crypto';
import { ApiError } from '../errors.js';

export const SESSION_COOKIE = 'stackwire_session';
export const LOGIN_CODE_SECONDS = 120;

interface TokenBody {
  v: 1;
  /** login: a one-time sign-in code; session: the cookie. */
  t: 'login' | 'session';
  /** The API key id the token stands for. */
  k: string;
  /** Expiry, seconds since the epoch. */
  e: number;
  n: string;
}

export class SessionSigner {
  private readonly mac: Buffer;
  /** Login code nonces already used (until they expire). */
  private readonly usedCodes = new Map<string, number>();

  constructor(secretKey: Buffer) {
    this.mac = Buffer.from(crypto.hkdfSync('sha256', secretKey, Buffer.alloc(0), 'stackwire web session v1', 32));
  }

  private sign(body: TokenBody): string {
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${payload}.${crypto.createHmac('sha256', this.mac).update(payload).digest('base64url')}`;
  }

  issue(kind: TokenBody['t'], keyId: string, seconds: number): { token: string; expiresAt: Date } {
    const e = Math.floor(Date.now() / 1000) + seconds;
    return { token: this.sign({ v: 1, t: kind, k: keyId, e, n: crypto.randomBytes(12).toString('base64url') }), expiresAt: new Date(e * 1000) };
  }

  /** The key id of a valid token of this kind; a 401 saying why otherwise. */
  verify(token: string, kind: TokenBody['t']): string {
    const what = kind === 'login' ? 'sign-in link' : 'session';
    const [payload, sig, extra] = token.split('.');
    const expected = payload ? crypto.createHmac('sha256', this.mac).update(payload).digest() : undefined;
    const given = sig ? Buffer.from(sig, 'base64url') : undefined;
    if (extra !== undefined || !expected || !given || given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      throw new ApiError(401, 'unauthenticated', `the ${what} is not valid (signed by another secret key, or altered); sign in again.`);
    }
    let body: TokenBody;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenBody;
    } catch {
      throw new ApiError(401, 'unauthenticated', `the ${what} is not valid; sign in again.`);
    }
    if (body.v !== 1 || body.t !== kind || typeof body.k !== 'string') throw new ApiError(401, 'unauthenticated', `this is not a ${what}; sign in again.`);
    const now = Date.now() / 1000;
    if (body.e <= now) {
      throw new ApiError(
        401,
        'unauthenticated',
        kind === 'login'
          ? `the sign-in link expired (links last ${LOGIN_CODE_SECONDS} s); run \`stackwire ui\` for a new one.`
          : 'the session expired; sign in again.',
      );
    }
    if (kind === 'login') {
      for (const [n, e] of this.usedCodes) if (e <= now) this.usedCodes.delete(n);
      if (this.usedCodes.has(body.n)) throw new ApiError(401, 'unauthenticated', 'the sign-in link was already used; run `stackwire ui` for a new one.');
      this.usedCodes.set(body.n, body.e);
    }
    return body.k;
  }
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
