/**
 * The security-related part of the configuration: the secret keys (current and old), the CLI's API
 * key and credentials file, mTLS to Temporal, and the origins allowed to call the codec endpoint.
 * Part of config.ts (which calls these from loadConfig); it reads only the `env` it is given.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, optional, type Env } from './config-values.js';

export interface TemporalTls {
  /** Client certificate and key (PEM) for mTLS; absent: server-authenticated TLS only. */
  clientCertPair: { crt: Buffer; key: Buffer } | undefined;
  /** CA bundle (PEM) that signed the server's certificate; absent: the system's roots. */
  serverRootCACertificate: Buffer | undefined;
  /** Name to verify the server's certificate against, when it differs from the host in TEMPORAL_ADDRESS. */
  serverNameOverride: string | undefined;
}

export interface CliConfig {
  /** STACKWIRE_API_KEY; when unset the key comes from the credentials file. */
  apiKey: string | undefined;
  /** STACKWIRE_API_URL as given (unset: the credentials file's apiUrl, else api.url). */
  apiUrl: string | undefined;
  /** STACKWIRE_CREDENTIALS, else $XDG_CONFIG_HOME/stackwire/credentials.json (~/.config/…). */
  credentialsFile: string;
}

const KEY_HINT = `Make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;

export function secretKey(env: Env): Buffer | undefined {
  const raw = optional(env, 'STACKWIRE_SECRET_KEY');
  if (raw === undefined) return undefined;
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(`STACKWIRE_SECRET_KEY must be 32 random bytes in base64 (got ${key.length} bytes). ${KEY_HINT}`);
  }
  return key;
}

export function cliConfig(env: Env, home: string): CliConfig {
  const apiKey = optional(env, 'STACKWIRE_API_KEY');
  if (apiKey !== undefined && !/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new ConfigError(
      'STACKWIRE_API_KEY holds spaces, line breaks or non-ASCII characters, so it is not a key as `stackwire apikey create` prints it. Set it to the key alone, or unset it to use the credentials file.',
    );
  }
  const explicit = optional(env, 'STACKWIRE_CREDENTIALS');
  if (explicit !== undefined && !path.isAbsolute(explicit)) {
    throw new ConfigError(
      `STACKWIRE_CREDENTIALS=${JSON.stringify(explicit)} is not an absolute path. Give the full path of the credentials file, e.g. ${path.join(home, '.config', 'stackwire', 'credentials.json')}.`,
    );
  }
  // XDG: a relative XDG_CONFIG_HOME is invalid and ignored.
  const xdg = optional(env, 'XDG_CONFIG_HOME');
  const configBase = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.config');
  const apiUrl = optional(env, 'STACKWIRE_API_URL');
  return { apiKey, apiUrl: apiUrl?.replace(/\/+$/, ''), credentialsFile: explicit ?? path.join(configBase, 'stackwire', 'credentials.json') };
}

/** STACKWIRE_OLD_SECRET_KEYS: comma-separated base64 keys that are tried for decryption only (key rotation). */
export function oldSecretKeys(env: Env, current: Buffer | undefined): Buffer[] {
  const raw = optional(env, 'STACKWIRE_OLD_SECRET_KEYS');
  if (raw === undefined) return [];
  if (!current)
    throw new ConfigError(
      'STACKWIRE_OLD_SECRET_KEYS is set but STACKWIRE_SECRET_KEY is not: old keys only decrypt, a current key must encrypt. Set STACKWIRE_SECRET_KEY to the new key.',
    );
  const keys: Buffer[] = [];
  raw.split(',').forEach((part, i) => {
    const text = part.trim();
    if (text === '') return;
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    if (key.length !== 32)
      throw new ConfigError(
        `STACKWIRE_OLD_SECRET_KEYS: entry ${i + 1} is not 32 bytes in base64 (got ${key.length} bytes). List the previous STACKWIRE_SECRET_KEY values separated by commas.`,
      );
    // The current key listed again (mid-rotation) is harmless: it is tried first anyway.
    if (!key.equals(current) && !keys.some((k) => k.equals(key))) keys.push(key);
  });
  return keys;
}

function readPem(env: Env, name: string, kind: 'certificate' | 'private key'): { file: string; pem: Buffer } | undefined {
  const file = optional(env, name);
  if (file === undefined) return undefined;
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : code === 'EISDIR' ? 'is a folder' : String(err);
    throw new ConfigError(`${name}=${JSON.stringify(file)}: the file ${why}. Point it at the PEM ${kind} file for the Temporal connection, or unset it.`);
  }
  const text = pem.toString('utf8');
  const looksRight = kind === 'certificate' ? text.includes('-----BEGIN CERTIFICATE-----') : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (!looksRight)
    throw new ConfigError(
      `${name}=${JSON.stringify(file)} is not a PEM ${kind} (no "-----BEGIN ${kind === 'certificate' ? 'CERTIFICATE' : '… PRIVATE KEY'}-----" line). Give the PEM file, not DER or a folder.`,
    );
  return { file, pem };
}

/** TEMPORAL_TLS_CERT / _KEY / _CA / _SERVER_NAME: TLS to an existing cluster, mutual when a client certificate is given. */
export function temporalTls(env: Env, address: string | undefined): TemporalTls | undefined {
  const cert = readPem(env, 'TEMPORAL_TLS_CERT', 'certificate');
  const key = readPem(env, 'TEMPORAL_TLS_KEY', 'private key');
  const ca = readPem(env, 'TEMPORAL_TLS_CA', 'certificate');
  const serverName = optional(env, 'TEMPORAL_TLS_SERVER_NAME');
  if (!cert && !key && !ca) {
    if (serverName !== undefined)
      throw new ConfigError(
        'TEMPORAL_TLS_SERVER_NAME is set but no TLS is configured: set TEMPORAL_TLS_CA (and TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY for mTLS) too, or unset it.',
      );
    return undefined;
  }
  if (cert && !key)
    throw new ConfigError('TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: mTLS needs the client certificate and its private key together.');
  if (key && !cert)
    throw new ConfigError('TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: mTLS needs the client certificate and its private key together.');
  if (address === undefined)
    throw new ConfigError(
      'TEMPORAL_TLS_* is set but TEMPORAL_ADDRESS is not: TLS is for an existing cluster; the local dev server that runs without TEMPORAL_ADDRESS speaks plain gRPC. Set TEMPORAL_ADDRESS, or unset the TEMPORAL_TLS_* variables.',
    );
  if (cert && key) {
    let x509: crypto.X509Certificate;
    try {
      x509 = new crypto.X509Certificate(cert.pem);
    } catch (err) {
      throw new ConfigError(`TEMPORAL_TLS_CERT=${JSON.stringify(cert.file)} cannot be parsed as an X.509 certificate: ${(err as Error).message}.`);
    }
    let privateKey: crypto.KeyObject;
    try {
      privateKey = crypto.createPrivateKey(key.pem);
    } catch (err) {
      throw new ConfigError(
        `TEMPORAL_TLS_KEY=${JSON.stringify(key.file)} cannot be parsed as a private key (an encrypted key is not supported): ${(err as Error).message}.`,
      );
    }
    if (!x509.checkPrivateKey(privateKey))
      throw new ConfigError(
        `TEMPORAL_TLS_KEY=${JSON.stringify(key.file)} is not the private key of the certificate in TEMPORAL_TLS_CERT=${JSON.stringify(cert.file)}.`,
      );
  }
  if (ca) {
    try {
      new crypto.X509Certificate(ca.pem);
    } catch (err) {
      throw new ConfigError(`TEMPORAL_TLS_CA=${JSON.stringify(ca.file)} cannot be parsed as an X.509 certificate: ${(err as Error).message}.`);
    }
  }
  return {
    clientCertPair: cert && key ? { crt: cert.pem, key: key.pem } : undefined,
    serverRootCACertificate: ca?.pem,
    serverNameOverride: serverName,
  };
}

/** A webhook's shared secret: long enough that it cannot be guessed. */
export function webhookSecret(env: Env, name: string): string | undefined {
  const v = optional(env, name);
  if (v !== undefined && v.length < 20)
    throw new ConfigError(
      `${name} is ${v.length} characters; use at least 20 random ones (e.g. \`openssl rand -hex 32\`), and the same in the webhook's settings.`,
    );
  return v;
}

/** STACKWIRE_WEB_UI_URL: the Temporal Web UI (public path /ui) that the API serves at /ui; `off` for none. */
export function webUiUrl(env: Env, fallback: string | undefined): string | undefined {
  const raw = optional(env, 'STACKWIRE_WEB_UI_URL');
  if (raw === 'off') return undefined;
  if (raw === undefined) return fallback;
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    u = undefined;
  }
  if (!u || !/^https?:$/.test(u.protocol) || u.pathname.replace(/\/+$/, '') !== '' || u.search !== '') {
    throw new ConfigError(
      `STACKWIRE_WEB_UI_URL=${JSON.stringify(raw)} is not the base URL of a Temporal Web UI: give scheme, host and port only (e.g. http://127.0.0.1:8233), for a UI started with public path /ui; or \`off\`.`,
    );
  }
  return u.origin;
}

/** STACKWIRE_CODEC_CORS_ORIGINS: the Web UI origins allowed to call the codec endpoint from a browser. */
export function codecCorsOrigins(env: Env, uiPort: number): string[] {
  const raw = optional(env, 'STACKWIRE_CODEC_CORS_ORIGINS');
  if (raw === undefined) return [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];
  const origins = raw
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const o of origins) {
    let u: URL | undefined;
    try {
      u = new URL(o);
    } catch {
      u = undefined;
    }
    if (!u || !/^https?:$/.test(u.protocol) || u.origin !== o)
      throw new ConfigError(
        `STACKWIRE_CODEC_CORS_ORIGINS: ${JSON.stringify(o)} is not an origin. List the Temporal Web UI origins as scheme://host[:port] with no path or trailing slash, e.g. https://temporal.example.com.`,
      );
  }
  return origins;
}
