/** The API's bodies for deployments and release trains (re-exported by api-types.ts). Types only, workflow-safe. */
import type { DeployResult, PuppetSummary } from './deploy.js';

/** Health checks after puppet apply: whole seconds, timeout 1..86400, interval 1..3600. */
export interface HealthSettings {
  timeoutSeconds: number;
  intervalSeconds: number;
}

/** Per region: the version running now (last succeeded deploy, or null) and the one a deploy brings. */
export interface VersionChange {
  region: string;
  from: string | null;
  to: string;
}

/** `puppet apply --noop` in one region: its summary, or why it could not run. */
export type PuppetNoopResult = PuppetSummary | { error: string };

/**
 * POST /api/v1/deployments: 400 invalid_request / not_placed, 404 component_not_found, 409 no_worker /
 * deploy_in_progress.
 */
export interface DeployHttpRequest {
  component: string;
  version: string;
  environment: string;
  /** Default: every region the component is placed in, in this environment. */
  regions?: string[];
  /** The first wave; default the first region. */
  canary?: string;
  /** Wait for an approval between the canary and the rest, failing after this many seconds (1..604800). */
  approvalTimeoutSeconds?: number;
  health?: HealthSettings;
  /** Answer the plan (waves, version changes, puppet noop); start nothing. */
  plan?: boolean;
}

/** POST /api/v1/deployments with plan: true (200). */
export interface DeployPlanResponse {
  plan: true;
  component: string;
  version: string;
  environment: string;
  waves: string[][];
  changes: VersionChange[];
  puppetRole: string | null;
  /** region → noop result (empty when the component has no Puppet role). */
  puppetNoop: Record<string, PuppetNoopResult>;
  checks: string[];
  deployAction: string | null;
  approvalGate: boolean;
  /** The component's platform, and per region the platform work the deploy would do (snapshots, the image pulled, the hosts reached). */
  platform: string;
  platformWork: Record<string, string[]>;
}

/** POST /api/v1/deployments (202): `id` is the workflow id to follow, approve or reject. */
export interface DeployStartedResponse {
  id: string;
  runId: string;
  deploymentId: string;
  waves: string[][];
  changes: VersionChange[];
}

export type DeployResponse = DeployPlanResponse | DeployStartedResponse;

/** One region deploy or rollback as Postgres records it. */
export interface DeploymentRecord {
  id: string;
  component: string;
  version: string;
  environment: string;
  region: string;
  kind: 'deploy' | 'rollback';
  status: string;
  previousVersion: string | null;
  actor: string;
  trigger: string;
  workflowId: string;
  reason: string | null;
  puppet: PuppetSummary | null;
  approvedBy: string | null;
  /** The trigger instance (GET /api/v1/triggers/:id) whose run started the deploy: a push, a webhook delivery; null for one asked for by hand. */
  triggerId: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** GET /api/v1/deployments[?component=&environment=&limit=1..1000 (50)]: newest first. */
export interface DeploymentListResponse {
  deployments: DeploymentRecord[];
}

/** What a running deploy answers its status query with. */
export interface DeployStatusDetail {
  phase: string;
  waves: string[][];
  done: string[];
  awaitingApproval: boolean;
}

/** What a finished release train returns. */
export interface ReleaseTrainOutcome {
  releaseId: string;
  waves: string[][];
  outcome: Record<string, { status: 'succeeded' | 'failed' | 'skipped'; reason?: string; startedAfter?: string[] }>;
}

/**
 * GET /api/v1/deployments/:id (a deploy's or a release's workflow id). `detail`: while running, the
 * workflow's status query (DeployStatusDetail for a deploy); when completed, its result; else null.
 */
export interface DeploymentView {
  id: string;
  /** Workflow type: deployComponent or releaseTrain. */
  type: string;
  status: 'running' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'continued_as_new' | 'timed_out' | (string & {});
  detail: DeployStatusDetail | DeployResult | ReleaseTrainOutcome | Record<string, unknown> | null;
  error: string | null;
  records: Pick<DeploymentRecord, 'id' | 'region' | 'kind' | 'version' | 'status' | 'reason' | 'puppet' | 'approvedBy'>[];
}

/** POST /api/v1/deployments/:id/approve and …/reject: 409 not_running / not_awaiting_approval. */
export interface GateDecisionRequest {
  reason?: string;
}

/** 202 answer of …/approve */
export interface ApproveResponse {
  id: string;
  approvedBy: string;
}

/** 202 answer of …/reject */
export interface RejectResponse {
  id: string;
  rejectedBy: string;
}

/** POST /api/v1/releases: give `components` (name → version) or `sinceTag`, not both. */
export interface ReleaseRequest {
  environment: string;
  components?: Record<string, string>;
  /** Every component of the environment whose repository has commits since this tag. */
  sinceTag?: string;
  plan?: boolean;
  /** Components deployed at once within a wave, 1..100 (4). */
  maxParallel?: number;
  health?: HealthSettings;
}

/** What a `sinceTag` release selected and left out. */
export interface ReleaseSelection {
  unchanged?: string[];
  warnings?: string[];
}

/** POST /api/v1/releases with sinceTag when nothing changed since the tag (200): nothing to release. */
export interface ReleaseNothingResponse {
  plan: boolean;
  environment: string;
  waves: [];
  versions: Record<string, never>;
  unchanged: string[];
  warnings: string[];
}

/** POST /api/v1/releases with plan: true (200). */
export interface ReleasePlanResponse extends ReleaseSelection {
  plan: true;
  environment: string;
  waves: string[][];
  versions: Record<string, string>;
  /** component → per-region version changes */
  changes: Record<string, VersionChange[]>;
  /** component → region → noop result */
  puppetNoop: Record<string, Record<string, PuppetNoopResult>>;
}

/** POST /api/v1/releases (202): `id` is the release train's workflow id. */
export interface ReleaseStartedResponse extends ReleaseSelection {
  id: string;
  waves: string[][];
  versions: Record<string, string>;
}

export type ReleaseResponse = ReleaseNothingResponse | ReleasePlanResponse | ReleaseStartedResponse;
