/**
 * Roles and permissions. Every route names the one permission it needs (api/routes.ts); a role holds
 * every permission of the roles below it. Keys may be scoped further to packs and environments.
 *
 *   viewer   — read: catalog, executions, packs, source of truth, deployments
 *   operator — also run and cancel actions, deploy to non-production environments, approve gates
 *   deployer — also deploy to protected (production) environments
 *   admin    — also ingest packs, apply the source of truth, manage keys, read the audit trail
 */
import { ROLES, type Role } from '../../common/api-types.js';
import type { KeyScopes } from '../../db/apikeys.js';

export { ROLES };
import { ApiError } from '../errors.js';

export const PERMISSIONS = {
  'self.read': { role: 'viewer', what: 'who am I; the OpenAPI document' },
  'metrics.read': { role: 'viewer', what: 'scrape the Prometheus metrics at /metrics (no key needed with STACKWIRE_METRICS_PUBLIC=true)' },
  'catalog.read': { role: 'viewer', what: 'list and show actions' },
  'executions.read': { role: 'viewer', what: 'read executions and their logs' },
  'packs.read': { role: 'viewer', what: 'list packs' },
  'sot.read': { role: 'viewer', what: 'read components and dependencies' },
  'deployments.read': { role: 'viewer', what: 'read deployments' },
  'executions.run': { role: 'operator', what: 'run actions (pack scope)' },
  'executions.cancel': { role: 'operator', what: 'cancel executions (pack scope)' },
  'codec.decode': { role: 'operator', what: 'decode payloads for the Temporal Web UI' },
  'ui.view': { role: 'viewer', what: 'sign in to and read the Temporal Web UI served at /ui (payloads decoded for operator and above)' },
  'schedules.read': { role: 'viewer', what: 'list schedules' },
  'triggers.read': { role: 'viewer', what: 'read trigger instances, traces and the declared webhooks' },
  'rules.read': { role: 'viewer', what: 'list and show rules' },
  'rules.manage': { role: 'admin', what: 'apply and delete rules (a rule acts with the authority of who applied it)' },
  'webhooks.manage': { role: 'admin', what: 'declare and remove generic webhooks' },
  'schedules.manage': { role: 'admin', what: 'create, pause, trigger and delete schedules' },
  'ui.write': { role: 'admin', what: 'act in the Temporal Web UI at /ui (terminate, signal, reset …)' },
  'deployments.deploy': { role: 'operator', what: 'deploy and release (environment scope; protected environments need deployer)' },
  'deployments.approve': {
    role: 'operator',
    what: 'approve or reject an approval gate (environment scope; never one’s own deploy to a protected environment)',
  },
  'packs.ingest': { role: 'admin', what: 'upload files, ingest and remove packs (pack scope)' },
  'packs.configure': { role: 'admin', what: "set a pack's config values and datastore keys (pack scope)" },
  'sot.apply': { role: 'admin', what: 'apply the source of truth' },
  'apikeys.manage': { role: 'admin', what: 'create, list and revoke API keys' },
  'audit.read': { role: 'admin', what: 'read and verify the audit trail' },
  'sensors.read': { role: 'viewer', what: 'list sensors and what they emitted' },
  'sensors.manage': { role: 'admin', what: 'create and delete sensors (a script sensor runs its action with the authority of who created it)' },
} as const satisfies Record<string, { role: Role; what: string }>;

export type Permission = keyof typeof PERMISSIONS;

export interface Principal {
  /** The key's owner: the actor recorded for everything done with the key. */
  actor: string;
  role: Role;
  keyId: string;
  scopes: KeyScopes;
  expiresAt: Date | null;
  /** Mutating requests a minute (null: the configured default). */
  rateLimit: number | null;
  /** How the key was presented: a bearer header (default) or a browser session cookie. */
  via?: 'session';
}

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export function checkPermission(p: Principal, permission: Permission): void {
  const needed = PERMISSIONS[permission].role;
  if (!roleAtLeast(p.role, needed)) {
    throw new ApiError(
      403,
      'forbidden',
      `${permission} needs the ${needed} role; the key ${p.keyId} of ${p.actor} has ${p.role}. Ask an admin for a key with that role (stackwire apikey create --role ${needed}).`,
      { permission, needed, role: p.role },
    );
  }
}

export function checkPackScope(p: Principal, pack: string, permission: Permission): void {
  if (p.scopes.packs && !p.scopes.packs.includes(pack)) {
    throw new ApiError(
      403,
      'forbidden',
      `the key ${p.keyId} of ${p.actor} is scoped to pack(s) ${p.scopes.packs.join(', ')}; ${permission} on pack ${pack} is not allowed.`,
      {
        permission,
        pack,
      },
    );
  }
}

/** Environment scope, and deployer for a protected environment. */
export function checkEnvironment(p: Principal, environment: string, isProtected: boolean, permission: Permission): void {
  if (p.scopes.environments && !p.scopes.environments.includes(environment)) {
    throw new ApiError(
      403,
      'forbidden',
      `the key ${p.keyId} of ${p.actor} is scoped to environment(s) ${p.scopes.environments.join(', ')}; ${permission} in ${environment} is not allowed.`,
      { permission, environment },
    );
  }
  if (permission === 'deployments.deploy' && isProtected && !roleAtLeast(p.role, 'deployer')) {
    throw new ApiError(
      403,
      'forbidden',
      `${environment} is a protected environment: deploying there needs the deployer role; the key ${p.keyId} of ${p.actor} has ${p.role}.`,
      { permission, environment, needed: 'deployer' },
    );
  }
}
