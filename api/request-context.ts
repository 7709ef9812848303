/**
 * Who is asking and through what. The actor is always the owner of the API key that authenticated
 * the request; an `X-Stackwire-Actor` header is ignored. The trigger (cli, api, webhook …) is the
 * caller's own description of the channel and is recorded as such.
 */
import type { Request } from 'express';
import { principal } from './http.js';

export function actorOf(req: Request): string {
  return principal(req).actor;
}

export function triggerOf(req: Request): string {
  const t = req.header('x-stackwire-trigger');
  return t && /^[\w.-]{1,60}$/.test(t) ? t : 'api';
}
