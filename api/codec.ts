/**
 * The codec endpoint of the Temporal Web UI and CLI (Temporal's "codec server" protocol), so operators
 * read decrypted payloads although Temporal only stores ciphertext (lib/payload-codec.ts).
 *
 *   POST <mount>/decode   POST <mount>/encode   (also <mount>/<namespace>/decode for the CLI's {namespace})
 *   Content-Type: application/json, X-Namespace: <namespace>
 *   body and answer: {"payloads": [{"metadata": {"encoding": "<base64>", …}, "data": "<base64>"}]}
 *   (Payloads in protobuf JSON: every bytes field, metadata values included, is base64)
 *
 * The Web UI calls it from the browser (fetch, POST, optional `credentials: 'include'` and
 * `Authorization: Bearer`), so it answers CORS for the origins in STACKWIRE_CODEC_CORS_ORIGINS, and
 * answers preflight OPTIONS before any authentication (browsers send no Authorization on preflight).
 * Authentication, when given as `authenticate`, runs after CORS so its 401 is readable by the UI.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { PayloadCodecError, createPayloadCodec } from '../lib/payload-codec.js';
import type { RouterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { ownOrigin, route } from './http.js';

const PayloadProto = proto.temporal.api.common.v1.Payload;

const ALLOWED_HEADERS = 'Authorization, Authorization-Extras, Content-Type, X-Namespace';
/** Temporal rejects payloads over 2 MB; base64 and a few of them in one request fit in this. */
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

function badRequest(message: string): ApiError {
  return new ApiError(400, 'invalid_payloads', `${message} The body must be {"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}.`);
}

function b64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64_RE.test(value)) throw badRequest(`${where} is not a base64 string.`);
  return Buffer.from(value, 'base64');
}

/** Protobuf JSON → Payload, with a 400 naming the first field that is wrong. */
function fromJson(body: unknown): Payload[] {
  const list = (body as { payloads?: unknown } | undefined)?.payloads;
  if (!body || typeof body !== 'object' || !Array.isArray(list)) throw badRequest('the body has no "payloads" array.');
  return list.map((p, i) => {
    if (!p || typeof p !== 'object' || Array.isArray(p)) throw badRequest(`payloads[${i}] is not an object.`);
    const { metadata = {}, data = '', externalPayloads } = p as { metadata?: unknown; data?: unknown; externalPayloads?: unknown };
    if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw badRequest(`payloads[${i}].metadata is not an object.`);
    const payload: Payload = {
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, b64(v, `payloads[${i}].metadata.${k}`)])),
      data: b64(data, `payloads[${i}].data`),
    };
    if (Array.isArray(externalPayloads) && externalPayloads.length) payload.externalPayloads = PayloadProto.fromObject({ externalPayloads }).externalPayloads;
    return payload;
  });
}

function toJson(p: Payload): JsonPayload {
  const o = PayloadProto.toObject(PayloadProto.create(p), { bytes: String, longs: String }) as { metadata?: Record<string, string>; data?: string };
  // Both keys always: the Web UI recognises a payload by its "metadata" and "data" keys.
  return { ...o, metadata: o.metadata ?? {}, data: o.data ?? '' };
}

export function codecRouter(deps: RouterDeps): express.Router {
  const { config, logger } = deps;
  const codec = createPayloadCodec(config);
  const origins = new Set(config.api.codecCorsOrigins);
  const router = express.Router();

  // CORS first, for every method: the preflight answers without authentication.
  router.use('/api/v1/codec', (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    // The UI served at /ui calls from the API's own origin; a UI elsewhere must be allowed by name.
    if (origin !== undefined && origin !== ownOrigin(req)) {
      res.vary('Origin');
      if (!origins.has(origin)) {
        throw new ApiError(
          403,
          'origin_not_allowed',
          `the codec endpoint does not serve pages from ${origin}; add that Temporal Web UI origin to STACKWIRE_CODEC_CORS_ORIGINS (comma-separated) and restart the API.`,
        );
      }
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method === 'OPTIONS') {
      res.set('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.set('Access-Control-Max-Age', '600');
      res.set('Allow', 'POST, OPTIONS');
      res.status(204).end();
      return;
    }
    next();
  });

  const serve = (op: 'encode' | 'decode') => async (req: Request<Record<string, string>>, res: Response) => {
    const header = req.headers['x-namespace'];
    const namespace = (typeof header === 'string' && header !== '' ? header : undefined) ?? req.params.namespace;
    if (namespace !== undefined && namespace !== config.temporal.namespace)
      throw new ApiError(
        400,
        'wrong_namespace',
        `this codec serves the Temporal namespace ${JSON.stringify(config.temporal.namespace)} (TEMPORAL_NAMESPACE), not ${JSON.stringify(namespace)}.`,
      );
    if (!req.is('application/json')) throw badRequest('the request is not Content-Type: application/json.');
    const payloads = fromJson(req.body);
    let out: Payload[];
    try {
      out = op === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
    } catch (err) {
      if (err instanceof PayloadCodecError) throw new ApiError(400, err.code, err.message);
      throw err;
    }
    logger.debug({ op, payloads: payloads.length, namespace }, 'codec request');
    res.json({ payloads: out.map(toJson) });
  };
  route(router, 'POST /api/v1/codec/decode', deps.http, serve('decode'));
  route(router, 'POST /api/v1/codec/encode', deps.http, serve('encode'));
  route(router, 'POST /api/v1/codec/:namespace/decode', deps.http, serve('decode'));
  route(router, 'POST /api/v1/codec/:namespace/encode', deps.http, serve('encode'));
  return router;
}
