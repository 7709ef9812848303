/**
 * What a StackStorm python-script action gets from its worker, as under st2: the pack's config
 * (config.schema.yaml defaults, values set with `stackwire pack config`, secrets opened), its
 * datastore (action_service over a socket on fd 3, backed by Postgres, scoped to the pack), and the
 * pack's Python environment built from requirements.txt (lib/pack-venv.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { st2Kwargs, st2RemoteParts } from '../common/argv.js';
import { shellText } from '../common/st2-cmd.js';
import { ConfigSchemaError, parseConfigSchema, resolveConfig, secretKeys, type ConfigSchema } from '../common/st2-config.js';
import type { ActionSpec } from '../common/types.js';
import { datastoreDelete, datastoreGet, datastoreList, datastoreSet, packConfigRows } from '../db/pack-state.js';
import type { Pool } from '../db/pool.js';
import { ensurePackEnv, PackEnvError, type PipSource } from '../lib/pack-venv.js';
import { isSealed, seal, unseal } from '../lib/secrets.js';

export interface St2Deps {
  pool: Pool;
  secretKey: Buffer | undefined;
  oldSecretKeys?: Buffer[] | undefined;
  scriptEnv: Record<string, string>;
  pip?: PipSource | undefined;
  runUser?: { uid: number; gid: number } | undefined;
}

/** The pack's config.schema.yaml, if it has one. */
export function readConfigSchema(packDir: string): ConfigSchema | undefined {
  for (const name of ['config.schema.yaml', 'config.schema.yml']) {
    const file = path.join(packDir, name);
    if (fs.existsSync(file)) return parseConfigSchema(fs.readFileSync(file, 'utf8'), name);
  }
  return undefined;
}

function keysOf(deps: Pick<St2Deps, 'secretKey' | 'oldSecretKeys'>): Buffer[] {
  return [...(deps.secretKey ? [deps.secretKey] : []), ...(deps.oldSecretKeys ?? [])];
}

/** The config an action's class receives, and the secret values in it (to mask in its output). */
export async function packConfig(deps: St2Deps, pack: string, packDir: string): Promise<{ config: Record<string, unknown>; secrets: string[] }> {
  let schema: ConfigSchema | undefined;
  try {
    schema = readConfigSchema(packDir);
  } catch (err) {
    if (err instanceof ConfigSchemaError) throw ApplicationFailure.nonRetryable(`pack ${pack}: ${err.message}`, 'PackConfigInvalid');
    throw err;
  }
  const values: Record<string, unknown> = {};
  const secrets: string[] = [];
  for (const row of await packConfigRows(deps.pool, pack)) {
    let v = row.value;
    if (isSealed(v)) {
      try {
        v = unseal(v, keysOf(deps));
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`pack ${pack}: config key ${row.key} cannot be opened: ${(err as Error).message}`, 'PackConfigInvalid');
      }
      secrets.push(typeof v === 'string' ? v : JSON.stringify(v));
    }
    values[row.key] = v;
  }
  const { config, problems } = resolveConfig(schema, values);
  if (problems.length)
    throw ApplicationFailure.nonRetryable(
      `pack ${pack} is not configured: ${problems.join('; ')}. Set values with: stackwire pack config ${pack} key=value (see: stackwire pack config ${pack})`,
      'PackConfigInvalid',
    );
  for (const k of secretKeys(schema)) if (typeof config[k] === 'string' && !secrets.includes(config[k])) secrets.push(config[k]);
  return { config, secrets: secrets.filter((s) => s !== '') };
}

interface DatastoreRequest {
  op?: string;
  name?: unknown;
  value?: unknown;
  ttl?: unknown;
  encrypt?: unknown;
  decrypt?: unknown;
  prefix?: unknown;
  limit?: unknown;
  offset?: unknown;
}

/**
 * Answers the shim's datastore requests for one run. A value opened for the action (decrypt=True) is
 * handed to `reveal`, so the run's output masks it from then on.
 */
export function datastoreHandler(deps: St2Deps, pack: string, reveal: (secret: string) => void) {
  return async (raw: unknown): Promise<unknown> => {
    const r = (raw ?? {}) as DatastoreRequest;
    const name = typeof r.name === 'string' ? r.name : undefined;
    const needName = () => {
      if (!name || name.length > 512) throw new Error('a key name is required (at most 512 characters)');
      return name;
    };
    switch (r.op) {
      case 'get': {
        const row = await datastoreGet(deps.pool, pack, needName());
        if (!row) return { value: null };
        if (!row.secret || !isSealed(row.value)) return { value: row.value };
        // Not asked to decrypt: the sealed form, as st2 returns the ciphertext.
        if (r.decrypt !== true) return { value: row.value.$sealed };
        const clear = unseal(row.value, keysOf(deps));
        const text = typeof clear === 'string' ? clear : JSON.stringify(clear);
        reveal(text);
        return { value: clear };
      }
      case 'set': {
        const ttl = r.ttl === null || r.ttl === undefined ? null : Number(r.ttl);
        if (ttl !== null && !(Number.isInteger(ttl) && ttl >= 1)) throw new Error('ttl must be a whole number of seconds, at least 1');
        const text = typeof r.value === 'string' ? r.value : String(r.value);
        if (text.length > 1_000_000) throw new Error('a value is at most 1,000,000 characters');
        if (r.encrypt === true && !deps.secretKey) throw new Error('encrypt=True needs STACKWIRE_SECRET_KEY on the worker; the value was not stored');
        await datastoreSet(deps.pool, pack, needName(), r.encrypt === true ? seal(text, deps.secretKey!) : text, r.encrypt === true, ttl);
        return { value: true };
      }
      case 'delete':
        return { value: await datastoreDelete(deps.pool, pack, needName()) };
      case 'list': {
        const limit = r.limit === null || r.limit === undefined ? 1000 : Math.min(1000, Math.max(1, Number(r.limit) || 1));
        const rows = await datastoreList(deps.pool, pack, typeof r.prefix === 'string' ? r.prefix : '', limit, Math.max(0, Number(r.offset) || 0));
        return { value: rows.map((x) => ({ name: x.name, value: x.secret && isSealed(x.value) ? x.value.$sealed : x.value, secret: x.secret })) };
      }
      default:
        throw new Error(`unknown datastore operation ${JSON.stringify(r.op)}; one of get, set, delete, list`);
    }
  };
}

/** The python to run the shim with: the pack's own environment when it has a requirements.txt. */
export async function packPython(
  deps: St2Deps & { venvRoot: string },
  pack: string,
  packDir: string,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const file = path.join(packDir, 'requirements.txt');
  if (!fs.existsSync(file)) return undefined;
  try {
    const env = await ensurePackEnv({
      venvRoot: deps.venvRoot,
      pack,
      requirements: fs.readFileSync(file),
      pip: deps.pip ?? {},
      env: deps.scriptEnv,
      runUser: deps.runUser,
      onLine,
      ...(signal ? { signal } : {}),
    });
    return env.python;
  } catch (err) {
    if (err instanceof PackEnvError) throw ApplicationFailure.nonRetryable(err.message, 'PackEnvironmentFailed');
    throw err;
  }
}

/** The shim's stdin: the run's keyword arguments, the pack's config and its name. */
export function shimRequest(action: ActionSpec, clear: Record<string, unknown>, config: Record<string, unknown>): string {
  const sensor = action.parameters.st2Sensor;
  return JSON.stringify({
    parameters: JSON.parse(st2Kwargs(action, clear)) as unknown,
    config,
    pack: action.pack,
    ...(sensor ? { sensor: { class_name: sensor.className, poll_interval: Number(clear.poll_interval ?? sensor.pollInterval) } } : {}),
  });
}

/**
 * The shim's --remote request: hosts, the SSH identity (the action's private_key parameter, else the
 * pack's ssh_private_key), the known hosts (ssh_known_hosts: host keys are always checked), and the
 * command (templates as quoted variable references) or the script with its argv. Secrets go to `mask`.
 */
export function remoteRequest(
  action: ActionSpec,
  clear: Record<string, unknown>,
  config: Record<string, unknown>,
  packDir: string,
  mask: (secret: string) => void,
): string {
  const str = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : typeof v === 'string' ? v : JSON.stringify(v));
  const key = str(clear.private_key) ?? str(config.ssh_private_key);
  const knownHosts = str(config.ssh_known_hosts);
  const username = str(clear.username) ?? str(config.ssh_username);
  const how = `stackwire pack config ${action.pack}`;
  if (!key)
    throw ApplicationFailure.nonRetryable(
      `${action.name} runs over SSH and has no key: set the pack's ssh_private_key (${how} --from-env ssh_private_key=VAR) or pass private_key`,
      'PackConfigInvalid',
    );
  if (!knownHosts)
    throw ApplicationFailure.nonRetryable(
      `${action.name} runs over SSH with host keys checked, and pack ${action.pack} has no ssh_known_hosts: add the hosts' lines (ssh-keyscan -p PORT HOST) with ${how} --from-env ssh_known_hosts=VAR`,
      'PackConfigInvalid',
    );
  if (!username) throw ApplicationFailure.nonRetryable(`${action.name}: no SSH user: pass username or set ${how} ssh_username=…`, 'PackConfigInvalid');
  mask(key);
  const { args, values } = st2RemoteParts(action, clear);
  const mode = action.parameters.st2Remote ?? 'cmd';
  return JSON.stringify({
    mode,
    hosts: str(clear.hosts) ?? '',
    username,
    private_key: key,
    known_hosts: knownHosts,
    port: Number(clear.port ?? config.ssh_port ?? 22),
    ...(str(clear.cwd) ? { cwd: str(clear.cwd) } : {}),
    env: clear.env && typeof clear.env === 'object' ? clear.env : {},
    ...(mode === 'cmd' ? { cmd: shellText(typeof clear.cmd === 'string' ? clear.cmd : ''), values } : { script: path.join(packDir, action.entryPoint), args }),
  });
}
