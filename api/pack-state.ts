/**
 * A pack's state over HTTP: its config (`stackwire pack config`), its datastore (the keys its
 * StackStorm actions read and write through action_service), and its removal (`stackwire pack remove`).
 */
import { Router } from 'express';
import type { DatastoreListResponse, PackConfigResponse, PackRemoveResponse } from '../common/api-types.js';
import { convert } from '../common/parameters.js';
import { ConfigSchemaError, parseConfigSchema, resolveConfig, SSH_CONFIG_KEYS, type ConfigSchema } from '../common/st2-config.js';
import { SECRET_NAME } from '../common/validation.js';
import { datastoreDelete, datastoreList, datastoreSet, packConfigRows, removePack, writePackConfig } from '../db/pack-state.js';
import { currentPackManifest, loadBlobs } from '../db/packs.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { isSealed, seal } from '../lib/secrets.js';
import { ApiError } from './errors.js';
import type { RouterDeps } from './deps.js';
import { principal, route } from './http.js';
import { checkPackScope } from './security/permissions.js';

const MASK = '********';

/** The pack's config.schema.yaml in its current version (null: none); 404 for a pack never ingested. */
export async function currentConfigSchema(pool: Pool, pack: string): Promise<ConfigSchema | null> {
  const manifest = await currentPackManifest(pool, pack);
  if (!manifest) throw new ApiError(404, 'pack_not_found', `no pack ${JSON.stringify(pack)}; GET /api/v1/packs lists them.`);
  const entry = manifest.find((m) => m.path === 'config.schema.yaml' || m.path === 'config.schema.yml');
  if (!entry) return null;
  const blob = (await loadBlobs(pool, [entry.sha256])).get(entry.sha256);
  try {
    return parseConfigSchema(blob?.toString('utf8') ?? '', entry.path);
  } catch (err) {
    if (err instanceof ConfigSchemaError) throw new ApiError(409, 'config_schema_invalid', `pack ${pack}: ${err.message}`);
    throw err;
  }
}

/** Required keys of the schema with neither a value nor a default. */
export function missingKeys(schema: ConfigSchema | null, set: Set<string>): string[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([k, p]) => p.required === true && p.default === undefined && !set.has(k))
    .map(([k]) => k);
}

/** Refuses a run of a pack's python-script action while required config keys have no value (before anything runs). */
export async function checkPackConfigured(pool: Pool, pack: string): Promise<void> {
  const schema = await currentConfigSchema(pool, pack);
  if (!schema) return;
  const missing = missingKeys(schema, new Set((await packConfigRows(pool, pack)).map((r) => r.key)));
  if (missing.length)
    throw new ApiError(
      400,
      'pack_not_configured',
      `pack ${pack} is not configured: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required and ${missing.length > 1 ? 'have' : 'has'} no value; set ${missing.length > 1 ? 'them' : 'it'} with: stackwire pack config ${pack} ${missing.map((m) => `${m}=…`).join(' ')}`,
      { missing },
    );
}

/** Refuses a run of a remote-shell action that could not connect: no key or no known hosts (before anything runs). */
export async function checkSshConfigured(pool: Pool, pack: string, parameters: Record<string, unknown>): Promise<void> {
  const set = new Set((await packConfigRows(pool, pack)).map((r) => r.key));
  const missing = [
    ...(parameters.private_key || set.has('ssh_private_key') ? [] : ['ssh_private_key']),
    ...(set.has('ssh_known_hosts') ? [] : ['ssh_known_hosts']),
  ];
  if (missing.length)
    throw new ApiError(
      400,
      'pack_not_configured',
      `pack ${pack} cannot reach hosts over SSH: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set (host keys are always checked); set ${missing.length > 1 ? 'them' : 'it'} with: stackwire pack config ${pack} --from-env ${missing[0]}=VAR`,
      { missing },
    );
}

async function configView(pool: Pool, pack: string, schema: ConfigSchema | null): Promise<PackConfigResponse> {
  const rows = await packConfigRows(pool, pack);
  return {
    pack,
    schema: schema ? schema.properties : null,
    values: Object.fromEntries(rows.map((r) => [r.key, { value: r.secret ? MASK : r.value, secret: r.secret, setBy: r.setBy, updatedAt: r.updatedAt }])),
    missing: missingKeys(schema, new Set(rows.map((r) => r.key))),
  };
}

export function packStateRouter({ pool, config, logger, http }: RouterDeps): Router {
  const router = Router();

  route(router, 'GET /api/v1/packs/:pack/config', http, async (req, res) => {
    const pack = req.params.pack;
    checkPackScope(principal(req), pack, 'packs.read');
    res.json(await configView(pool, pack, await currentConfigSchema(pool, pack)));
  });

  route(router, 'PUT /api/v1/packs/:pack/config', http, async (req, res) => {
    const pack = req.params.pack;
    const p = principal(req);
    checkPackScope(p, pack, 'packs.configure');
    const schema = await currentConfigSchema(pool, pack);
    const body = (req.body ?? {}) as { set?: Record<string, unknown>; unset?: string[] };
    const problems: string[] = [];
    const known = schema ? Object.keys(schema.properties) : undefined;
    const set: { key: string; value: unknown; secret: boolean }[] = [];
    for (const [key, raw] of Object.entries(body.set ?? {})) {
      const prop = schema?.properties[key] ?? SSH_CONFIG_KEYS[key];
      if (known && !prop) {
        problems.push(
          `${key}: is not a key of the pack's config.schema.yaml (its keys: ${known.join(', ') || 'none'}; and any pack may set ${Object.keys(SSH_CONFIG_KEYS).join(', ')})`,
        );
        continue;
      }
      let value = raw;
      const type = typeof prop?.type === 'string' ? prop.type : undefined;
      if (typeof raw === 'string' && type && type !== 'string') {
        const c = convert(raw, type);
        if (c.error) {
          problems.push(`${key}: ${c.error}`);
          continue;
        }
        value = c.value;
      }
      set.push({ key, value, secret: prop ? prop.secret === true : SECRET_NAME.test(key) || key === 'ssh_private_key' });
    }
    const unset = body.unset ?? [];
    for (const k of unset) if (k in (body.set ?? {})) problems.push(`${k}: is both set and unset`);
    // The values after the change, checked against the schema (types, enums); a missing required key is reported, not refused.
    const after: Record<string, unknown> = {};
    for (const r of await packConfigRows(pool, pack)) if (!unset.includes(r.key) && !r.secret) after[r.key] = r.value;
    for (const s of set) if (!s.secret) after[s.key] = s.value;
    if (schema) {
      const checked = resolveConfig(schema, after).problems.filter((x) => !/is required and has no value$/.test(x));
      problems.push(...checked.filter((x) => set.some((s) => x.startsWith(`${s.key}:`) || x.startsWith(`${s.key}.`))));
    }
    if (problems.length) throw new ApiError(400, 'invalid_config', `pack ${pack}: nothing was changed:\n  - ${problems.join('\n  - ')}`, { problems });
    if (set.some((s) => s.secret) && !config.secretKey)
      throw new ApiError(
        400,
        'secret_key_missing',
        `pack ${pack}: ${set
          .filter((s) => s.secret)
          .map((s) => s.key)
          .join(', ')} are secret but STACKWIRE_SECRET_KEY is not set, so they cannot be sealed; nothing was changed.`,
      );
    const sealed = set.map((s) => (s.secret && !isSealed(s.value) ? { ...s, value: seal(s.value, config.secretKey!) } : s));
    await inTransaction(pool, (client) => writePackConfig(client, pack, sealed, unset, p.actor));
    logger.info({ pack, set: set.map((s) => s.key), unset }, 'pack config changed');
    req.audit = { target: `pack:${pack}`, parameters: { set: set.map((s) => s.key), unset } };
    res.json(await configView(pool, pack, schema));
  });

  route(router, 'GET /api/v1/packs/:pack/datastore', http, async (req, res) => {
    const pack = req.params.pack;
    checkPackScope(principal(req), pack, 'packs.read');
    const prefix = typeof req.query.prefix === 'string' ? req.query.prefix : '';
    const rows = await datastoreList(pool, pack, prefix, 1000, 0);
    res.json({ pack, keys: rows.map((r) => ({ ...r, value: r.secret ? MASK : r.value })) } satisfies DatastoreListResponse);
  });

  route(router, 'PUT /api/v1/packs/:pack/datastore/:name', http, async (req, res) => {
    const { pack, name } = req.params as { pack: string; name: string };
    checkPackScope(principal(req), pack, 'packs.configure');
    const body = req.body as { value: string; secret?: boolean; ttl?: number };
    if (body.secret && !config.secretKey)
      throw new ApiError(400, 'secret_key_missing', 'secret: true needs STACKWIRE_SECRET_KEY on the API to seal the value; nothing was stored.');
    await datastoreSet(pool, pack, name, body.secret ? seal(body.value, config.secretKey!) : body.value, body.secret === true, body.ttl ?? null);
    req.audit = { target: `pack:${pack}`, parameters: { datastore: name, secret: body.secret === true, ttl: body.ttl ?? null } };
    res.json({ pack, name, stored: true });
  });

  route(router, 'DELETE /api/v1/packs/:pack/datastore/:name', http, async (req, res) => {
    const { pack, name } = req.params as { pack: string; name: string };
    checkPackScope(principal(req), pack, 'packs.configure');
    if (!(await datastoreDelete(pool, pack, name)))
      throw new ApiError(404, 'key_not_found', `pack ${pack} has no datastore key ${JSON.stringify(name)}; GET /api/v1/packs/${pack}/datastore lists them.`);
    req.audit = { target: `pack:${pack}`, parameters: { datastore: name } };
    res.json({ pack, name, deleted: true });
  });

  route(router, 'DELETE /api/v1/packs/:pack', http, async (req, res) => {
    const pack = req.params.pack;
    const p = principal(req);
    checkPackScope(p, pack, 'packs.ingest');
    if (pack === 'core') throw new ApiError(400, 'reserved_pack', 'pack "core" holds the built-in actions and cannot be removed.');
    const r = await inTransaction(pool, (client) => removePack(client, pack, p.actor));
    if (!r.removed)
      throw new ApiError(
        404,
        'pack_not_found',
        `no pack ${JSON.stringify(pack)} to remove (never ingested, or removed already); GET /api/v1/packs lists them.`,
      );
    logger.info({ pack, actions: r.actions.length }, 'pack removed');
    req.audit = { target: `pack:${pack}`, parameters: { removed: r.actions } };
    res.json({ pack, removed: true, actions: r.actions } satisfies PackRemoveResponse);
  });
  return router;
}
