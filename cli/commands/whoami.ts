/** stackwire whoami: the key this CLI is using, as the API sees it. */
import type { Command } from 'commander';
import { client, out, printJson } from '../shared.js';
import { scopesText } from './apikey.js';

export function registerWhoamiCommand(program: Command): void {
  program
    .command('whoami')
    .description('who the API takes you for: the owner, role, scopes and expiry of your API key')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const w = await client(cmd).whoami();
      if (opts.json) return printJson(w);
      out(`actor:   ${w.actor}\nrole:    ${w.role}\nkey:     ${w.keyId}\nscopes:  ${scopesText(w.scopes)}\nexpires: ${w.expiresAt ?? 'never'}`);
    });
}
