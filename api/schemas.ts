/** Request validation: each route's body and query against its JSON Schema (api/routes.ts), before the handler runs. */
import { Ajv, type ErrorObject } from 'ajv';
import type { Request } from 'express';
import { ApiError } from './errors.js';
import type { RouteDef } from './routes.js';

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });

function describe(where: string, e: ErrorObject): string {
  const at = `${where}${e.instancePath.replace(/\//g, '.')}`;
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const allowed = Object.keys((e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
    return `${at}: unknown field "${extra}"; allowed: ${allowed.join(', ') || 'none'}`;
  }
  if (e.keyword === 'required') return `${at}: "${(e.params as { missingProperty: string }).missingProperty}" is required`;
  if (e.keyword === 'enum')
    return `${at}: must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at}: ${e.message ?? 'is not valid'}`;
}

/** The problems of one part of a request, most useful first (oneOf's summary errors are left out). */
function problems(where: string, errors: ErrorObject[] | null | undefined): string[] {
  const list = (errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if');
  return [...new Set(list.map((e) => describe(where, e)))];
}

export function compileRequestValidator(key: string, def: RouteDef): (req: Request) => void {
  const body = def.body ? ajv.compile(def.body) : undefined;
  const query = ajv.compile(def.query ?? { type: 'object', additionalProperties: false });
  return (req) => {
    const found: string[] = [];
    if (!query({ ...(req.query as Record<string, unknown>) })) found.push(...problems('query', query.errors));
    if (body) {
      const b: unknown = req.body ?? {};
      if (!body(b)) found.push(...problems('body', body.errors));
    }
    if (found.length) {
      throw new ApiError(400, 'invalid_request', `${key}: ${found.join('; ')}. The request schemas are in GET /api/v1/openapi.json.`, { problems: found });
    }
  };
}
