/** stackwire apikey create | list | revoke: API keys (the key itself is shown once, at creation). */
import type { Command } from 'commander';
import { ROLES, type ApiKeyCreateRequest, type ApiKeyScopes, type Role } from '../../common/api-types.js';
import { loadConfig } from '../../lib/config.js';
import { writeCredentials } from '../../lib/credentials.js';
import { ExitError, client, err, listOption, out, parseDuration, printJson, table } from '../shared.js';

interface CreateOptions {
  name: string;
  role: string;
  expires: string;
  packs?: string;
  envs?: string;
  description?: string;
  save?: boolean;
  json?: boolean;
}

export function scopesText(s: ApiKeyScopes): string {
  const parts = [s.packs ? `packs ${s.packs.join(',')}` : '', s.environments ? `environments ${s.environments.join(',')}` : ''].filter(Boolean);
  return parts.join('; ') || 'all packs and environments';
}

/** Checks every option before anything is sent: exit 2 naming the option. */
function createRequest(opts: CreateOptions): ApiKeyCreateRequest {
  if (opts.name.trim() === '') throw new ExitError(2, '--name is empty: give the owner of the key (a person or a service), e.g. --name alice.');
  if (!(ROLES as readonly string[]).includes(opts.role))
    throw new ExitError(2, `--role ${JSON.stringify(opts.role)} is not a role; use one of ${ROLES.join(', ')}.`);
  let expiresInSeconds: number | null = null;
  if (opts.expires !== 'never') {
    const seconds = parseDuration(opts.expires);
    if (seconds === undefined)
      throw new ExitError(
        2,
        `--expires ${JSON.stringify(opts.expires)} is not a duration: give a whole number of days, hours or minutes (90d, 12h, 30m) or "never".`,
      );
    expiresInSeconds = seconds;
  }
  const packs = listOption(opts.packs);
  const environments = listOption(opts.envs);
  if (packs?.length === 0) throw new ExitError(2, '--packs lists no pack; give pack names separated by commas, or leave it out for all packs.');
  if (environments?.length === 0) throw new ExitError(2, '--envs lists no environment; give names separated by commas, or leave it out for all environments.');
  return {
    name: opts.name.trim(),
    role: opts.role as Role,
    expiresInSeconds,
    scopes: { ...(packs ? { packs } : {}), ...(environments ? { environments } : {}) },
    ...(opts.description !== undefined ? { description: opts.description } : {}),
  };
}

export function registerApiKeyCommands(program: Command): void {
  const apikey = program.command('apikey').description('API keys: who may call the API, with which role and scopes');
  apikey
    .command('create')
    .description('create a key (printed once, never shown again; only a salted hash is stored)')
    .requiredOption('--name <owner>', 'who the key belongs to: the actor recorded for everything done with it')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--expires <duration>', 'lifetime: 90d, 12h, 30m, or never', '90d')
    .option('--packs <list>', 'only these packs, comma-separated (default: all)')
    .option('--envs <list>', 'only these environments, comma-separated (default: all)')
    .option('--description <text>', 'what the key is for')
    .option('--save', 'also write the key to the credentials file (mode 0600) for this CLI to use')
    .option('--json', 'print as JSON')
    .action(async (opts: CreateOptions, cmd: Command) => {
      const request = createRequest(opts);
      const api = client(cmd);
      const k = await api.createApiKey(request);
      // Printed before anything else can fail: the key exists now and is never shown again.
      if (opts.json) printJson(k);
      else {
        out(`created API key ${k.id} for ${k.name}: role ${k.role}, ${scopesText(k.scopes)}, expires ${k.expiresAt ?? 'never'}`);
        out(`\n  ${k.key}\n`);
        out('This key is shown only this once: it cannot be retrieved later. Store it now (STACKWIRE_API_KEY, or --save to the credentials file).');
      }
      if (!opts.save) return;
      const file = loadConfig().cli.credentialsFile;
      try {
        writeCredentials(file, { apiUrl: api.baseUrl, apiKey: k.key });
      } catch (e) {
        throw new ExitError(1, `the key was created but could not be saved to ${file}: ${(e as Error).message}. Store the key printed above yourself.`);
      }
      (opts.json ? err : out)(`saved to ${file} (mode 0600)`);
    });
  apikey
    .command('list')
    .description('list keys: owner, role, scopes, status, expiry, last use (never the keys themselves)')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { apikeys } = await client(cmd).listApiKeys();
      if (opts.json) return printJson(apikeys);
      if (!apikeys.length) return out('no API keys');
      out(
        table([
          ['ID', 'NAME', 'ROLE', 'STATUS', 'SCOPES', 'EXPIRES', 'LAST USED', 'CREATED BY'],
          ...apikeys.map((k) => [k.id, k.name, k.role, k.status, scopesText(k.scopes), k.expiresAt ?? 'never', k.lastUsedAt ?? '-', k.createdBy]),
        ]),
      );
    });
  apikey
    .command('revoke')
    .description('revoke a key at once (requests made with it are refused from now on)')
    .argument('<id>', "the key's id (from apikey list)")
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).revokeApiKey(id);
      out(opts.json ? JSON.stringify(r, null, 2) : `${r.id}: revoked at ${r.revokedAt}`);
    });
}
