/** Who is asking and through what, from the request headers (authentication will fill the actor in). */
import type { Request } from 'express';

export function actorOf(req: Request): string {
  const a = req.header('x-stackwire-actor');
  return a && /^[\w.@-]{1,100}$/.test(a) ? a : 'anonymous';
}

export function triggerOf(req: Request): string {
  const t = req.header('x-stackwire-trigger');
  return t && /^[\w.-]{1,60}$/.test(t) ? t : 'api';
}
