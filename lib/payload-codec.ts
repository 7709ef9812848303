/**
 * The payload codec: every Temporal payload Stackwire writes (workflow inputs and results, activity
 * inputs and results, signals, queries, updates, memos, user metadata, failure details and — with the
 * failure converter of common/failure-converter.ts — failure messages and stack traces) is encrypted
 * with AES-256-GCM before it leaves the process, so the Temporal server only ever stores ciphertext.
 *
 * An encrypted payload is a new payload:
 *   metadata: { encoding: "binary/encrypted", "encryption-key-id": <key id> }
 *   data:     iv (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes)
 * where the plaintext is the original payload serialized with the Payload protobuf (its metadata and
 * data together), and the key id is the additional authenticated data.
 *
 * The key id is derived from the key (no names to manage): rotation is "put the new key in
 * STACKWIRE_SECRET_KEY, move the old one to STACKWIRE_OLD_SECRET_KEYS, restart every process".
 * Payloads that are not encrypted (histories written before the codec) decode untouched.
 */
import crypto from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { ConfigError, type Config } from './config.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PayloadProto = proto.temporal.api.common.v1.Payload;

/** A payload the codec cannot open; `code` tells the codec endpoint which 4xx to answer. */
export class PayloadCodecError extends Error {
  override name = 'PayloadCodecError';
  constructor(
    readonly code: 'unknown_key' | 'decrypt_failed' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

/** The id of a key: the first 16 hex digits of a domain-separated SHA-256 of its bytes (reveals nothing usable about the key). */
export function keyId(key: Buffer): string {
  return crypto.createHash('sha256').update('stackwire payload key id\0').update(key).digest('hex').slice(0, 16);
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class AesGcmPayloadCodec implements PayloadCodec {
  readonly currentKeyId: string;
  private readonly current: Buffer;
  private readonly keys = new Map<string, Buffer>();

  /** `current` encrypts; every key (current and old) decrypts what it encrypted. */
  constructor(current: Buffer, old: Buffer[] = []) {
    if (current.length !== 32) throw new Error('an AES-256 key is 32 bytes');
    this.current = current;
    this.currentKeyId = keyId(current);
    for (const k of [current, ...old]) if (!this.keys.has(keyId(k))) this.keys.set(keyId(k), k);
  }

  /** Ids of the keys this codec can decrypt with, current first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads.map((p) => this.encrypt(p)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads.map((p) => this.decrypt(p)));
  }

  encrypt(payload: Payload): Payload {
    const plain = PayloadProto.encode(payload).finish();
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.current, iv);
    cipher.setAAD(Buffer.from(this.currentKeyId));
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.currentKeyId) }, data };
  }

  /** Not encrypted: returned untouched. Encrypted with an unknown key, or altered: a PayloadCodecError. */
  decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const id = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!id) throw new PayloadCodecError('malformed', `an encrypted payload has no "${KEY_ID_METADATA}" metadata; it was not written by Stackwire's codec.`);
    const key = this.keys.get(id);
    if (!key)
      throw new PayloadCodecError(
        'unknown_key',
        `a payload is encrypted with key id ${id}, which is neither STACKWIRE_SECRET_KEY (key id ${this.currentKeyId}) nor in STACKWIRE_OLD_SECRET_KEYS${
          this.keys.size > 1 ? ` (key ids ${this.keyIds.slice(1).join(', ')})` : ''
        }. Add the key it was written with to STACKWIRE_OLD_SECRET_KEYS on every API and worker process and restart them.`,
      );
    const raw = Buffer.from(payload.data ?? new Uint8Array());
    if (raw.length < IV_BYTES + TAG_BYTES) throw new PayloadCodecError('malformed', `an encrypted payload (key id ${id}) is too short to hold a ciphertext.`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(id));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadCodecError('decrypt_failed', `an encrypted payload (key id ${id}) fails authentication: it was altered or truncated.`);
    }
    const decoded = PayloadProto.decode(plain);
    return { metadata: decoded.metadata, data: decoded.data, ...(decoded.externalPayloads?.length ? { externalPayloads: decoded.externalPayloads } : {}) };
  }
}

/** The codec of this process's keys. Every process that talks to Temporal needs STACKWIRE_SECRET_KEY. */
export function createPayloadCodec(config: Pick<Config, 'secretKey' | 'oldSecretKeys'>): AesGcmPayloadCodec {
  if (!config.secretKey)
    throw new ConfigError(
      "STACKWIRE_SECRET_KEY is not set: Stackwire encrypts every Temporal payload with it, so the API and every worker need the same key. Make one with: node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\" (npm start keeps one in .data/secret.key).",
    );
  return new AesGcmPayloadCodec(config.secretKey, config.oldSecretKeys);
}
