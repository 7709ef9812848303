/** Shapes of deploys, shared by the API, the deploy workflows and their activities. Pure types and helpers. */
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
}

export interface RegionDeployResult {
  region: string;
  version: string;
  kind: 'deploy' | 'rollback';
  status: 'succeeded';
  puppet: PuppetSummary | null;
  checks: CheckResult[];
  healthAttempts: number;
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
