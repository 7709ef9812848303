/**
 * The pack routes of the route table (api/routes.ts spreads them into ROUTES): the content-addressed
 * blob store, ingests, and the ingest reports read by reference, a page at a time.
 */
type Schema = Record<string, unknown>;

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const int = (minimum: number, maximum: number): Schema => ({ type: 'integer', minimum, maximum });
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', properties, required, additionalProperties: false });
const uintString: Schema = { type: 'string', pattern: '^[0-9]{1,9}$' };
const secondsString: Schema = { type: 'string', pattern: '^[0-9]{1,6}(\\.[0-9]+)?$' };
const sha256: Schema = str({ pattern: '^[0-9a-f]{64}$' });
const manifestEntry = obj({ path: str({ minLength: 1, maxLength: 4096 }), mode: int(0, 0o177777), sha256, size: int(0, 2 ** 40) }, ['path', 'sha256']);

/** Hashes one `POST /api/v1/blobs/missing` may ask about (the CLI asks 5,000 at a time: ~340 KB). */
export const MISSING_BATCH_MAX = 10_000;

export const PACK_ROUTES = {
  'POST /api/v1/blobs/missing': {
    permission: 'packs.ingest',
    summary: `Which of these file hashes the store lacks (at most ${MISSING_BATCH_MAX.toLocaleString('en')} a request).`,
    body: obj({ hashes: { type: 'array', items: sha256, maxItems: MISSING_BATCH_MAX } }, ['hashes']),
  },
  'POST /api/v1/blobs': {
    permission: 'packs.ingest',
    bodyLimit: '64mb',
    summary: 'Store files (content-addressed, verified against their hash).',
    body: obj({ files: { type: 'array', items: obj({ sha256, content: str() }, ['sha256', 'content']) } }, ['files']),
  },
  'GET /api/v1/packs': { permission: 'packs.read', summary: 'Packs with their version and action count.' },
  'POST /api/v1/packs/:pack/ingest': {
    permission: 'packs.ingest',
    bodyLimit: '64mb',
    summary: 'Ingest a pack from uploaded files or a git repository: 202 with the ingest id; the report is read from GET /api/v1/ingests/:id (and …/items).',
    body: obj(
      {
        source: {
          oneOf: [
            obj({ kind: { const: 'upload' }, manifest: { type: 'array', items: manifestEntry, minItems: 1, maxItems: 100000 }, location: str() }, [
              'kind',
              'manifest',
            ]),
            obj({ kind: { const: 'git' }, url: str({ minLength: 1, maxLength: 2000 }), ref: str({ maxLength: 255 }) }, ['kind', 'url']),
          ],
        },
        mode: { enum: ['apply', 'dry-run', 'check'] },
        region: str(),
      },
      ['source'],
    ),
  },
  'DELETE /api/v1/packs/:pack': {
    permission: 'packs.ingest',
    summary:
      'Remove a pack: it and its actions are marked removed (new runs are refused); its versions, runs and history are kept. Ingesting it again brings it back.',
  },
  'GET /api/v1/packs/:pack/config': {
    permission: 'packs.read',
    summary: "A pack's configuration: its config.schema.yaml keys, the values set (secrets masked), and what is still missing before its actions can run.",
  },
  'PUT /api/v1/packs/:pack/config': {
    permission: 'packs.configure',
    summary:
      "Set and unset config values of a pack, all or nothing. Values are checked against the pack's config.schema.yaml (a string is converted to the key's type); keys the schema marks secret are sealed with the stack key.",
    body: obj({ set: { type: 'object', maxProperties: 200 }, unset: { type: 'array', items: str({ minLength: 1, maxLength: 200 }), maxItems: 200 } }),
  },
  'GET /api/v1/packs/:pack/datastore': {
    permission: 'packs.read',
    summary: "The keys of a pack's datastore (st2's action_service), with a name prefix; encrypted values masked.",
    query: obj({ prefix: str({ maxLength: 512 }) }),
  },
  'PUT /api/v1/packs/:pack/datastore/:name': {
    permission: 'packs.configure',
    summary: "Set a key of a pack's datastore (a value its actions read with action_service.get_value); `secret` seals it, `ttl` expires it.",
    body: obj({ value: str({ maxLength: 1_000_000 }), secret: { type: 'boolean' }, ttl: int(1, 10 * 365 * 86400) }, ['value']),
  },
  'DELETE /api/v1/packs/:pack/datastore/:name': { permission: 'packs.configure', summary: "Delete a key of a pack's datastore." },
  'GET /api/v1/ingests/:id': {
    permission: 'packs.read',
    summary: 'An ingest: status (running, succeeded, failed), summary, pack version, error; waits up to `wait` seconds for its end.',
    query: obj({ wait: secondsString }),
  },
  'GET /api/v1/ingests/:id/items': {
    permission: 'packs.read',
    summary:
      'The items of an ingest report in order, a page at a time: actions (change, version, details, generated YAML), warnings, unsupported files, changed pack files. `next` is the `after` of the next page (null: the end).',
    query: obj({ kind: { enum: ['action', 'warning', 'unsupported', 'file'] }, after: uintString, limit: uintString }),
  },
} as const;
