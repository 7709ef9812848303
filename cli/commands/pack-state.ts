/**
 * stackwire pack config | remove | datastore: a pack's configuration (checked against its
 * config.schema.yaml; secrets sealed by the API), its removal, and its actions' datastore.
 */
import type { Command } from 'commander';
import type { PackConfigResponse } from '../../common/api-types.js';
import { SSH_CONFIG_KEYS } from '../../common/st2-config.js';
import { namedEnvValue } from '../../lib/config.js';
import { ExitError, client, out, printJson, table } from '../shared.js';

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function printConfig(c: PackConfigResponse): void {
  const keys = [...new Set([...Object.keys(c.schema ?? {}), ...Object.keys(c.values)])].sort();
  if (!keys.length) {
    out(`pack ${c.pack} has no config.schema.yaml and no config values`);
    return;
  }
  out(
    table([
      ['KEY', 'TYPE', 'VALUE', 'NOTES'],
      ...keys.map((k) => {
        const s = c.schema?.[k] ?? SSH_CONFIG_KEYS[k];
        const v = c.values[k];
        const notes = [s?.required ? 'required' : '', s?.secret || v?.secret ? 'secret' : '', v ? `set by ${v.setBy ?? '?'}` : ''].filter(Boolean).join(', ');
        const value = v ? show(v.value) : s?.default !== undefined ? `${show(s.default)} (default)` : '-';
        return [k, String(s?.type ?? '-'), value, notes];
      }),
    ]),
  );
  if (c.missing.length)
    out(`missing: ${c.missing.join(', ')} — the pack's python actions cannot run until they are set (stackwire pack config ${c.pack} ${c.missing[0]}=…)`);
}

function pairs(list: string[], fromEnv: string[]): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const p of list) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ExitError(2, `${JSON.stringify(p)} is not key=value; e.g. stackwire pack config mypack region=eu-west-1`);
    set[p.slice(0, eq)] = p.slice(eq + 1);
  }
  for (const p of fromEnv) {
    const eq = p.indexOf('=');
    const name = p.slice(eq + 1);
    if (eq <= 0 || !name) throw new ExitError(2, `--from-env ${JSON.stringify(p)} must be key=ENV_VAR, e.g. --from-env api_token=OPS_API_TOKEN`);
    const value = namedEnvValue(name);
    if (value === undefined) throw new ExitError(2, `--from-env ${p}: the environment variable ${name} is not set`);
    set[p.slice(0, eq)] = value;
  }
  return set;
}

export function registerPackStateCommands(pack: Command): void {
  pack
    .command('config')
    .description(
      "show or set a pack's config (the `config` its StackStorm actions get): values are checked against its config.schema.yaml, secret keys are sealed",
    )
    .argument('<pack>', 'the pack')
    .argument('[values...]', "key=value to set (a string is converted to the key's type; objects and arrays as JSON)")
    .option('--unset <key...>', 'remove these keys (their schema default applies again)')
    .option('--from-env <key=VAR...>', 'set a key from an environment variable (keeps secrets out of shell history)')
    .option('--json', 'print the config as JSON')
    .action(async (name: string, values: string[], opts: { unset?: string[]; fromEnv?: string[]; json?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const set = pairs(values, opts.fromEnv ?? []);
      const c =
        Object.keys(set).length || opts.unset?.length
          ? await api.setPackConfig(name, { ...(Object.keys(set).length ? { set } : {}), ...(opts.unset?.length ? { unset: opts.unset } : {}) })
          : await api.packConfig(name);
      if (opts.json) printJson(c);
      else printConfig(c);
    });

  pack
    .command('remove')
    .description(
      'remove a pack: it and its actions are marked removed (no new runs); its versions, runs and history are kept; ingest it again to bring it back',
    )
    .argument('<pack>', 'the pack')
    .option('--yes', 'confirm (required: removing a pack stops its actions from running)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { yes?: boolean; json?: boolean }, cmd: Command) => {
      if (!opts.yes) throw new ExitError(2, `removing pack ${name} stops its actions from running: add --yes to confirm`);
      const r = await client(cmd).removePack(name);
      if (opts.json) return printJson(r);
      out(`removed pack ${r.pack} and its ${r.actions.length} action(s)${r.actions.length ? `: ${r.actions.join(', ')}` : ''}; runs and history are kept`);
    });

  const ds = pack.command('datastore').description("a pack's datastore: the keys its StackStorm actions read and write with action_service");
  ds.command('list')
    .description('list the keys (encrypted values masked)')
    .argument('<pack>', 'the pack')
    .option('--prefix <prefix>', 'only names starting with this (a local key of an action is "<pack>.<Class>:<name>")')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { prefix?: string; json?: boolean }, cmd: Command) => {
      const r = await client(cmd).datastoreList(name, opts.prefix);
      if (opts.json) return printJson(r);
      if (!r.keys.length) return out(`pack ${name}'s datastore has no keys${opts.prefix ? ` starting with ${opts.prefix}` : ''}`);
      out(table([['NAME', 'VALUE', 'EXPIRES'], ...r.keys.map((k) => [k.name, show(k.value), k.expiresAt ?? '-'])]));
    });
  ds.command('set')
    .description('set a key (e.g. a value the actions read with get_value(name, local=False))')
    .argument('<pack>', 'the pack')
    .argument('<name>', 'the key')
    .argument('<value>', 'the value (a string, as st2 stores it)')
    .option('--secret', 'seal it with the stack key (actions read it with decrypt=True)')
    .option('--ttl <seconds>', 'expire it after this many seconds')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, key: string, value: string, opts: { secret?: boolean; ttl?: string; json?: boolean }, cmd: Command) => {
      const ttl = opts.ttl === undefined ? undefined : Number(opts.ttl);
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1)) throw new ExitError(2, `--ttl ${opts.ttl}: a whole number of seconds, at least 1`);
      const r = await client(cmd).datastoreSet(name, key, { value, ...(opts.secret ? { secret: true } : {}), ...(ttl ? { ttl } : {}) });
      if (opts.json) printJson(r);
      else out(`set ${key} in pack ${name}'s datastore${opts.secret ? ' (sealed)' : ''}${ttl ? `, expires in ${ttl}s` : ''}`);
    });
  ds.command('delete')
    .description('delete a key')
    .argument('<pack>', 'the pack')
    .argument('<name>', 'the key')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, key: string, opts: { json?: boolean }, cmd: Command) => {
      const r = await client(cmd).datastoreDelete(name, key);
      if (opts.json) printJson(r);
      else out(`deleted ${key} from pack ${name}'s datastore`);
    });
}
