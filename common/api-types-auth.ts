/**
 * The API's bodies for keys, identity and the audit trail (re-exported by api-types.ts). Types only,
 * workflow-safe. Every route but GET /healthz needs `Authorization: Bearer <key>`: 401 without a key
 * or with a refused one, 403 when the key's role or scopes do not allow the call (the message names
 * the permission), 429 with `Retry-After` when a key exceeds its rate on mutating routes.
 */

export const ROLES = ['viewer', 'operator', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a key may touch beyond its role; an absent list means all. */
export interface ApiKeyScopes {
  packs?: string[];
  environments?: string[];
}

/** POST /api/v1/apikeys */
export interface ApiKeyCreateRequest {
  /** The owner: the actor recorded for every request made with the key. */
  name: string;
  role: Role;
  /** null: never expires. */
  expiresInSeconds: number | null;
  scopes: ApiKeyScopes;
  description?: string;
  /** Mutating requests a minute with this key (default: STACKWIRE_API_RATE_LIMIT). */
  rateLimitPerMinute?: number;
}

/** A key as listed: never the key itself. */
export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  scopes: ApiKeyScopes;
  description: string;
  rateLimitPerMinute: number | null;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
  status: 'active' | 'expired' | 'revoked';
}

/** POST /api/v1/apikeys (201): the key, shown this once. */
export interface ApiKeyCreateResponse extends ApiKeyView {
  key: string;
}

/** GET /api/v1/apikeys */
export interface ApiKeyListResponse {
  apikeys: ApiKeyView[];
}

/** POST /api/v1/apikeys/:id/revoke */
export interface ApiKeyRevokeResponse {
  id: string;
  revokedAt: string;
  revokedBy: string | null;
}

/** GET /api/v1/whoami: the key the request was made with. */
export interface WhoamiResponse {
  actor: string;
  role: Role;
  keyId: string;
  scopes: ApiKeyScopes;
  expiresAt: string | null;
}

/** GET /api/v1/audit query: all optional; `since` is an ISO 8601 time. */
export interface AuditListQuery {
  actor?: string;
  since?: string;
  action?: string;
  limit?: number;
}

/** One row of the append-only audit trail; `hash` chains it to the row before. */
export interface AuditEntry {
  seq: number;
  at: string;
  /** null when the request carried no valid key. */
  actor: string | null;
  role: string | null;
  keyId: string | null;
  /** The permission of the route, e.g. "executions.run", "apikeys.manage", "deployments.approve". */
  action: string;
  target: string | null;
  /** Request parameters, secrets masked. */
  parameters: Record<string, unknown>;
  /** ok | denied | rejected | unauthenticated | rate_limited | failed */
  result: string;
  /** HTTP status of the answer. */
  status: number;
  requestId: string;
  source: string | null;
  prevHash: string;
  hash: string;
}

/** GET /api/v1/audit */
export interface AuditListResponse {
  entries: AuditEntry[];
}

/** GET /api/v1/audit/verify: the hash chain checked from the first row; `broken` names the first bad one. */
export interface AuditVerifyResponse {
  ok: boolean;
  checked: number;
  broken?: { seq: number; reason: string };
}

/** POST /api/v1/ui/login-links: a one-time sign-in link for the Web UI at /ui. */
export interface LoginLinkResponse {
  /** Open within two minutes; it works once. */
  url: string;
  expiresAt: string;
  /** Whether this API serves a Web UI at /ui (STACKWIRE_WEB_UI_URL). */
  webUi: boolean;
}
