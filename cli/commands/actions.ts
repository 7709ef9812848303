/** stackwire action list | show: the catalog. */
import type { Command } from 'commander';
import { displayArgv } from '../../common/argv.js';
import type { ActionView } from '../../common/api-types.js';
import { ApiRequestError, type ApiClient } from '../api-client.js';
import { ExitError, client, out, printJson, table } from '../shared.js';

/** One action, or exit 2 with a pointer to the catalog when there is no such action. */
export async function getActionOrExit(api: ApiClient, name: string): Promise<ActionView> {
  try {
    return await api.getAction(name);
  } catch (e) {
    if (e instanceof ApiRequestError && e.status === 404) throw new ExitError(2, `${e.message}\nTry 'stackwire action list'.`);
    throw e;
  }
}

/** Help for one action (also what `stackwire run <action> -h` prints). */
export async function showAction(api: ApiClient, name: string, json: boolean): Promise<void> {
  const a = await getActionOrExit(api, name);
  if (json) return printJson(a);
  out(`${a.name} (version ${a.version}, ${a.runner}: ${a.entryPoint})\n\n${a.description}\n`);
  const props = Object.entries(a.parameters.properties);
  if (props.length) {
    out(
      table([
        ['PARAMETER', 'TYPE', 'REQUIRED', 'DEFAULT', 'CHOICES', 'DESCRIPTION'],
        ...props.map(([p, s]) => [
          p + (s.secret ? ' (secret)' : ''),
          s.type === 'array' ? `array of ${s.items?.type ?? 'string'}` : (s.type ?? 'string'),
          a.parameters.required.includes(p) ? 'yes' : '',
          s.default === undefined ? '' : JSON.stringify(s.default),
          (s.enum ?? s.items?.enum)?.map((v) => String(v)).join('|') ?? '',
          s.description ?? '',
        ]),
      ]),
    );
  } else out('no parameters');
  if (a.parameters.exclusive?.length) out(`\nnot together: ${a.parameters.exclusive.map((g) => g.join(' | ')).join('; ')}`);
  out(
    `\nexample: ${displayArgv(a.exampleArgv)}\ntimeout: ${a.timeoutSeconds}s, attempts: ${a.maxAttempts}${a.region ? `, region: ${a.region}` : ''}${a.sourcePath ? `, source: ${a.sourcePath} (${a.origin ?? 'metadata'})` : ''}`,
  );
  out(`run it:  stackwire run ${a.name}${Object.keys(a.parameters.properties).length ? ' key=value …' : ''}`);
  for (const w of a.warnings ?? []) out(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);
}

export function registerActionCommands(program: Command): void {
  const action = program.command('action').description('browse the action catalog');
  action
    .command('list')
    .description('list actions')
    .option('--pack <pack>', 'only this pack')
    .option('--json', 'print as JSON')
    .action(async (opts: { pack?: string; json?: boolean }, cmd: Command) => {
      const { actions } = await client(cmd).listActions(opts.pack);
      if (opts.json) return printJson(actions);
      if (!actions.length) return out('the catalog is empty');
      out(
        table([
          ['NAME', 'VERSION', 'RUNNER', 'DESCRIPTION'],
          ...actions.map((a) => [a.name, String(a.version), a.runner, (a.description.split('\n')[0] ?? '').slice(0, 70)]),
        ]),
      );
    });
  action
    .command('show')
    .description('help for one action: description, parameters, example command line')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      await showAction(client(cmd), name, Boolean(opts.json));
    });
}
