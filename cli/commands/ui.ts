/** stackwire ui: a one-time sign-in link to the Temporal Web UI served by the API at /ui. */
import type { Command } from 'commander';
import { client, out, printJson } from '../shared.js';

export function registerUiCommand(program: Command): void {
  program
    .command('ui')
    .description('print a one-time sign-in link (valid 2 minutes) to the Temporal Web UI at <api>/ui, signed in as your key, payloads decoded')
    .option('--path <path>', 'a page of the UI to open after signing in, e.g. /ui/namespaces/default/workflows')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nThe link sets a session cookie (HttpOnly, SameSite=Strict) that lasts STACKWIRE_WEB_SESSION_TTL (8 h by default) or until the key expires or is revoked.',
    )
    .action(async (opts: { path?: string; json?: boolean }, cmd: Command) => {
      const link = await client(cmd).uiLoginLink(opts.path);
      if (opts.json) return printJson(link);
      out(`Open within 2 minutes (it works once):\n  ${link.url}`);
      if (!link.webUi) out('Note: this API serves no Web UI (STACKWIRE_WEB_UI_URL is not set); the link only signs you in for the codec endpoint.');
    });
}
