/**
 * The CLI's credentials file: JSON {"apiUrl"?: string, "apiKey": string}, mode 0600 in a 0700 folder
 * (default ~/.config/stackwire/credentials.json). Like ssh with a private key, a file that group or
 * others may read or write is refused rather than used. `npm start` writes the bootstrap admin key here.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config.js';

export interface Credentials {
  apiUrl?: string;
  apiKey: string;
}

export class CredentialsError extends ConfigError {
  override name = 'CredentialsError';
}

/** The credentials in `file`, or undefined when there is no such file. Throws CredentialsError for an unsafe or malformed file. */
export function readCredentials(file: string): Credentials | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredentialsError(`cannot read the credentials file ${file}: ${(e as Error).message}`);
  }
  try {
    // The mode of what was opened, not of what the path names a moment later.
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new CredentialsError(`the credentials file ${file} is not a regular file.`);
    if ((st.mode & 0o077) !== 0) {
      throw new CredentialsError(
        `the credentials file ${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); it holds an API key, so it is not used. Run: chmod 600 ${file}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(fd, 'utf8'));
    } catch (e) {
      throw new CredentialsError(
        `the credentials file ${file} is not valid JSON (${(e as Error).message}); it should be {"apiUrl": "http://…", "apiKey": "…"}.`,
      );
    }
    const c = parsed as Record<string, unknown> | null;
    if (!c || typeof c !== 'object' || Array.isArray(c) || typeof c.apiKey !== 'string' || c.apiKey === '') {
      throw new CredentialsError(`the credentials file ${file} has no "apiKey" string; it should be {"apiUrl": "http://…", "apiKey": "…"}.`);
    }
    if (c.apiUrl !== undefined && (typeof c.apiUrl !== 'string' || !/^https?:\/\/\S+$/.test(c.apiUrl))) {
      throw new CredentialsError(`the credentials file ${file}: "apiUrl" must be an http(s) URL such as "http://127.0.0.1:7380", or be left out.`);
    }
    return { apiKey: c.apiKey, ...(typeof c.apiUrl === 'string' ? { apiUrl: c.apiUrl.replace(/\/+$/, '') } : {}) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes the credentials atomically with mode 0600 (a temporary file in the same folder, then a
 * rename), creating the folder with mode 0700 when it does not exist.
 */
export function writeCredentials(file: string, credentials: Credentials): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const body = `${JSON.stringify({ ...(credentials.apiUrl ? { apiUrl: credentials.apiUrl } : {}), apiKey: credentials.apiKey }, null, 2)}\n`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  let open = true;
  try {
    fs.writeFileSync(fd, body);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    open = false;
    // The umask cannot widen 0600, but make sure whatever the file system did.
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, file);
  } catch (e) {
    if (open) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
