/** What every command module shares: output, the exit-code error, tables, and the API client factory. */
import type { Command } from 'commander';
import { loadConfig } from '../lib/config.js';
import { readCredentials } from '../lib/credentials.js';
import { ApiClient } from './api-client.js';

/** Thrown to end a command with this exit code (2: bad input, nothing started; 1: failed) and message. */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
export const err = (s: string): void => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

/** Pretty JSON on stdout (every command's --json). */
export const printJson = (v: unknown): void => out(JSON.stringify(v, null, 2));

/** Left-aligned columns, two spaces apart; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The API client for a command. URL: --api, else STACKWIRE_API_URL, else the credentials file's
 * apiUrl, else the default. Key: STACKWIRE_API_KEY, else the credentials file (refused when group
 * or others may read or write it). There is no --api-key: keys on command lines end up in shell history.
 */
export function apiClientFor(explicitUrl: string | undefined): ApiClient {
  const config = loadConfig();
  const { apiKey, apiUrl, credentialsFile } = config.cli;
  const credentials = !apiKey || (!explicitUrl && !apiUrl) ? readCredentials(credentialsFile) : undefined;
  const url = explicitUrl ?? apiUrl ?? credentials?.apiUrl ?? config.api.url;
  return new ApiClient(url.replace(/\/+$/, ''), { apiKey: apiKey ?? credentials?.apiKey, credentialsFile });
}

/** The client for the command being run (reads the global --api option). */
export function client(cmd: Command): ApiClient {
  return apiClientFor(cmd.optsWithGlobals<{ api?: string }>().api);
}

const UNIT_SECONDS = { d: 86400, h: 3600, m: 60 } as const;

/** "90d", "12h", "30m" in seconds; undefined for anything else (0 and fractions included). */
export function parseDuration(s: string): number | undefined {
  const m = /^([1-9]\d{0,6})([dhm])$/.exec(s.trim());
  return m ? Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : undefined;
}

/** A comma-separated option as a list (blanks dropped); undefined when the option was not given. */
export function listOption(s: string | undefined): string[] | undefined {
  return s === undefined
    ? undefined
    : s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
}
