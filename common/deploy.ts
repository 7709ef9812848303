/** Shapes of deploys, shared by the API, the deploy workflows and their activities. Pure types and helpers. */
import type { PlatformSettings } from './platform-types.js';
import type { ActionSpec } from './types.js';

export interface CheckSpec {
  name: string;
  command: string;
  timeout: number;
  interval: number;
  subscriptions: string[];
}

/** What a deploy reads from the source of truth once, at its start, and carries in history. */
export interface ComponentSnapshot {
  name: string;
  platform: string;
  puppetRole: string | null;
  hiera: Record<string, unknown>;
  checks: CheckSpec[];
  deployParams: Record<string, unknown>;
  dependsOn: string[];
  /** Regions the component runs in, in this environment. */
  regions: string[];
  /** Last succeeded version per region, or null. */
  previousVersions: Record<string, string | null>;
  deployAction?: ActionSpec;
  rollbackAction?: ActionSpec;
  /** Where it runs on its platform (sot/platforms.ts); a docker leg replaces its container. */
  platformSettings?: PlatformSettings;
}

export interface ApprovalGate {
  /** Wait for an approval between the canary wave and the rest. */
  required: boolean;
  timeoutSeconds: number;
  /**
   * Wait before the first wave too: nothing is touched until someone approves. Set for protected
   * environments, where the approver must not be the requester (four eyes).
   */
  beforeFirstWave?: boolean;
}

export interface DeployRequest {
  deploymentId: string;
  component: string;
  version: string;
  environment: string;
  /** Defaults to every region the component is placed in. */
  regions?: string[];
  /** The first wave; defaults to the first region. */
  canary?: string;
  approval?: ApprovalGate;
  health?: { timeoutSeconds: number; intervalSeconds: number };
  actor: string;
  trigger: string;
  /** The trigger instance (a push, a webhook delivery) whose run asked for the deploy: recorded with it (delivery metrics). */
  triggerId?: string;
}

export interface PuppetSummary {
  exitCode: number;
  noop: boolean;
  changed: number;
  failed: number;
  outOfSync: number;
  total: number;
  timeSeconds: number;
}

export interface CheckResult {
  name: string;
  status: number;
  output: string;
}

export interface RegionDeployInput {
  deploymentId: string;
  recordId: string;
  snapshot: ComponentSnapshot;
  version: string;
  previousVersion: string | null;
  environment: string;
  region: string;
  kind: 'deploy' | 'rollback';
  actor: string;
  trigger: string;
  /** The trigger instance behind the deploy, when one was (DeployRequest.triggerId). */
  triggerId?: string;
  health: { timeoutSeconds: number; intervalSeconds: number };
  /** Who approved the gate this wave passed, if any. */
  approvedBy?: string;
  /** A rollback of this region follows a failure: leave the silences for it to lift, so nothing pages in between. */
  keepSilenceOnFailure?: boolean;
  /**
   * A rollback leg of a region whose deploy leg succeeded and snapshotted its KVM domains or vSphere
   * VMs: the platform's own undo first (back to this snapshot), then the previous version's action and
   * Puppet converge on the reverted machines.
   */
  revertTo?: string;
}

export interface RegionDeployResult {
  region: string;
  version: string;
  kind: 'deploy' | 'rollback';
  status: 'succeeded';
  puppet: PuppetSummary | null;
  checks: CheckResult[];
  healthAttempts: number;
  /** What the platform step did: a docker leg's image started and the one replaced; a KVM leg's snapshot and each domain's snapshots. */
  platform?: Record<string, unknown>;
}

export interface DeployResult {
  deploymentId: string;
  component: string;
  version: string;
  environment: string;
  waves: string[][];
  regions: RegionDeployResult[];
  approvedBy?: string;
}

/** What the awaitHealthy activity is asked: pass over the checks every intervalSeconds until all are OK or `deadline`. */
export interface HealthWait {
  component: string;
  environment: string;
  version: string;
  checks: CheckSpec[];
  intervalSeconds: number;
  timeoutSeconds: number;
  /** Epoch milliseconds (workflow time when the checks began + timeoutSeconds): a retry keeps it. */
  deadline: number;
}

export interface HealthWaitResult {
  results: CheckResult[];
  attempts: number;
}

/** The longest one pass over the checks may take, in seconds (a check with timeout 0 is stopped after 4 minutes). */
export function checkPassSeconds(checks: CheckSpec[]): number {
  return checks.reduce((sum, c) => sum + (c.timeout > 0 ? c.timeout : 240), 0);
}

/** Puppet's activity limit in a deploy leg (15 minutes) and its attempts (2). */
export const PUPPET_LEG_SECONDS = 15 * 60 * 2;
/** Slack on top of the steps' limits: scheduling, recording, unsilencing. */
const LEG_MARGIN_SECONDS = 5 * 60;

/**
 * How long a Sensu silence of a deploy leg lasts: as long as the leg may run — its deploy action's
 * timeout times its attempts, Puppet's limit, the health deadline plus one pass over the checks, and a
 * margin — so the checks stay silenced however long a legitimate deploy takes, and a silence that
 * could not be lifted (Sensu unreachable at the end) does not outlive the leg by much.
 */
export function silenceSeconds(input: Pick<RegionDeployInput, 'snapshot' | 'health' | 'kind'>): number {
  const s = input.snapshot;
  const action = input.kind === 'rollback' ? (s.rollbackAction ?? s.deployAction) : s.deployAction;
  const actionSeconds = action ? action.timeoutSeconds * Math.max(1, action.maxAttempts) : 0;
  const puppetSeconds = s.puppetRole ? PUPPET_LEG_SECONDS : 0;
  const healthSeconds = s.checks.length ? input.health.timeoutSeconds + checkPassSeconds(s.checks) : 0;
  return actionSeconds + puppetSeconds + healthSeconds + LEG_MARGIN_SECONDS;
}

/** Variables a check command or deploy parameter may use: {component} {version} {environment} {region}. */
export function substitute(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(component|version|environment|region)\}/g, (_m, k: string) => vars[k] ?? '');
}

/** The deploy action's parameters: the component's deploy parameters plus who/what/where, as far as the action declares them. */
export function deployParameters(
  action: ActionSpec,
  snapshot: ComponentSnapshot,
  version: string,
  environment: string,
  region: string,
): Record<string, unknown> {
  const vars = { component: snapshot.name, version, environment, region };
  const all: Record<string, unknown> = { ...snapshot.deployParams, ...vars };
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(action.parameters.properties)) {
    const v = all[k];
    if (v !== undefined) out[k] = typeof v === 'string' ? substitute(v, vars) : v;
  }
  return out;
}
