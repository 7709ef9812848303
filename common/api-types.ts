/**
 * The HTTP API's request and response bodies, route by route: the one definition the API annotates
 * its answers with and the CLI (or any TypeScript client) reads them with. Types only, workflow-safe.
 * Timestamps are ISO 8601 strings. Every error is `ApiErrorBody` with a status of 4xx or 5xx.
 * Deployments and releases are in api-types-deploy.ts, keys, identity and audit in api-types-auth.ts,
 * rules in api-types-rules.ts, delivery metrics in api-types-metrics.ts (re-exported here: import everything from this module).
 */
import type { PipelineProblem } from './pipeline.js';
import type { ActionSpec, IngestWarning, PackRef } from './types.js';

// ---------------------------------------------------------------------------------------------
// Errors and the open routes
// ---------------------------------------------------------------------------------------------

/** Every non-2xx answer. `code` is stable; `message` says what was wrong and what to do. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** GET /healthz (no key needed). */
export interface HealthResponse {
  status: 'ok';
  regions: string[];
  namespace: string;
}

// ---------------------------------------------------------------------------------------------
// Actions: GET /api/v1/actions[?pack=], GET /api/v1/actions/:name
// ---------------------------------------------------------------------------------------------

/** An action as the API shows it: its spec plus an example command line (secrets masked). */
export type ActionView = ActionSpec & { exampleArgv: string[] };

export interface ActionListResponse {
  actions: ActionView[];
}

// ---------------------------------------------------------------------------------------------
// Executions
// ---------------------------------------------------------------------------------------------

/** `lost`: its worker died mid-run; waiting for an operator's decision (`stackwire execution resolve`). */
export type ExecutionStatus = 'scheduled' | 'running' | 'lost' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

/** POST /api/v1/executions (header `Idempotency-Key` optional). Give `region` or `regions`, not both. */
export interface RunRequest {
  action: string;
  parameters?: Record<string, unknown>;
  region?: string;
  regions?: string[];
  dryRun?: boolean;
}

/** POST /api/v1/executions with dryRun: the checked parameters and exact argv, nothing started (200). */
export interface RunDryRunResponse {
  action: string;
  actionVersion: number;
  dryRun: true;
  parameters: Record<string, unknown>;
  argv: string[];
  command: string;
}

/** POST /api/v1/executions: 202 started, 200 when an Idempotency-Key matched an earlier run. */
export interface RunStartedResponse {
  id: string;
  workflowId: string;
  action: string;
  actionVersion: number;
  regions: string[];
  /** Multi-region runs: the per-region execution ids. */
  children?: string[];
  status: 'scheduled';
  command: string;
  deduplicated: boolean;
  links: { self: string };
}

export type RunResponse = RunDryRunResponse | RunStartedResponse;

/** One execution as Postgres records it. */
export interface ExecutionRecord {
  id: string;
  workflowId: string;
  runId: string | null;
  parentId: string | null;
  action: string;
  actionVersion: number;
  region: string;
  parameters: Record<string, unknown>;
  argv: string[];
  status: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  error: string | null;
  worker: string | null;
  attempt: number;
  actor: string;
  trigger: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

/** GET /api/v1/executions[?limit=1..1000 (50)&action=]: newest first, without the output. */
export interface ExecutionListResponse {
  executions: Omit<ExecutionRecord, 'stdout' | 'stderr'>[];
}

/** GET /api/v1/executions/:id[?wait=seconds]: a run of one action (recorded by its worker). */
export type ActionExecutionView = { kind: 'action' } & ExecutionRecord;

/** GET /api/v1/executions/:id: started, but its worker has not recorded it yet. */
export interface PendingExecutionView {
  kind: 'action';
  id: string;
  workflowId: string;
  status: ExecutionStatus;
  createdAt: string;
}

/** GET /api/v1/executions/:id: a run in several regions, with one child per region. */
export interface MultiRegionExecutionView {
  kind: 'multi-region';
  id: string;
  workflowId: string;
  status: ExecutionStatus;
  startedAt: string;
  finishedAt: string | null;
  children: ExecutionRecord[];
}

export type ExecutionView = ActionExecutionView | PendingExecutionView | MultiRegionExecutionView;

export interface LogEntry {
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  data: string;
  at: string;
}

/** GET /api/v1/executions/:id/logs?after=<seq>&wait=<seconds>: entries after `after`; `next` is the `after` of the next page. */
export interface LogPage {
  id: string;
  entries: LogEntry[];
  next: number;
  /** The execution has ended and every entry has been read. */
  done: boolean;
  status: string;
}

/** POST /api/v1/executions/:id/cancel (202). */
export interface CancelResponse {
  id: string;
  status: 'cancelling';
}

// ---------------------------------------------------------------------------------------------
// Packs and ingestion
// ---------------------------------------------------------------------------------------------

/** One file of a pack version: content-addressed by sha256. */
export interface ManifestEntry {
  path: string;
  mode: number;
  sha256: string;
  size: number;
}

/** POST /api/v1/blobs/missing */
export interface BlobsMissingRequest {
  hashes: string[];
}
export interface BlobsMissingResponse {
  missing: string[];
}

/** POST /api/v1/blobs (up to 64 MB a request): content in base64, checked against its sha256. */
export interface BlobsUploadRequest {
  files: { sha256: string; content: string }[];
}
export interface BlobsUploadResponse {
  stored: number;
}

/** Where a pack version came from, as recorded (`upload`: location; `git`: url, ref, commit; `path`: path). */
export interface PackSource {
  kind?: string;
  location?: string | null;
  url?: string;
  ref?: string | null;
  commit?: string;
  path?: string;
  [k: string]: unknown;
}

/** GET /api/v1/packs */
export interface PackListResponse {
  packs: { name: string; version: number; source: PackSource; actions: number; updatedAt: string }[];
}

export type IngestMode = 'apply' | 'dry-run' | 'check';

export type IngestSource =
  { kind: 'upload'; manifest: ManifestEntry[]; location?: string } | { kind: 'git'; url: string; ref?: string } | { kind: 'path'; path: string };

/**
 * POST /api/v1/packs/:pack/ingest: `upload` (blobs uploaded first; 409 blobs_missing lists the rest in
 * details.missing) or `git`. Answers 202 with the ingest's id (common/api-types-ingest.ts); the report
 * is read from GET /api/v1/ingests/:id and its items.
 */
export interface IngestHttpRequest {
  mode?: IngestMode;
  source: Exclude<IngestSource, { kind: 'path' }>;
  region?: string;
}

export interface ActionChange {
  name: string;
  change: 'added' | 'changed' | 'unchanged' | 'removed';
  version?: number;
  details?: string[];
}

/** The counts of an ingest report. */
export interface IngestCounts {
  added: number;
  changed: number;
  unchanged: number;
  removed: number;
  warnings: number;
  unsupported: number;
  /** Parameters inferred from scripts; of them, those a person should look at (their warnings say why); actions left with free-form arguments. */
  parameters?: number;
  toReview?: number;
  freeForm?: number;
}

export interface IngestReport {
  pack: string;
  mode: IngestMode;
  source: Record<string, unknown>;
  packVersion?: PackRef;
  files: number;
  changes: ActionChange[];
  /**
   * Files of the pack that differ from its current version in the catalog — also those that are no
   * action (a library module, a config file): runs use the stored files, so they count as drift.
   */
  fileChanges: { added: string[]; changed: string[]; removed: string[] };
  summary: IngestCounts;
  drift: boolean;
  warnings: IngestWarning[];
  unsupported: { file: string; reason: string }[];
  actions: { name: string; sourcePath: string; framework: string; yaml: string }[];
}

/** A whole report as `stackwire ingest --json` and `stackwire pack report --json` print it (assembled from the report's pages). */
export type IngestResponse = IngestReport & { id: string; workflowId: string };

// ---------------------------------------------------------------------------------------------
// Source of truth and components
// ---------------------------------------------------------------------------------------------

/** POST /api/v1/sot/apply (up to 16 MB): 400 invalid_definitions with details [{file, line, column, message}]. */
export interface SotApplyRequest {
  files: { path: string; content: string }[];
  dryRun?: boolean;
}

export interface SotChange {
  kind: 'environment' | 'region' | 'component';
  name: string;
  change: 'added' | 'changed' | 'removed';
  details?: string[];
}

export interface SotApplyResponse {
  dryRun: boolean;
  changes: SotChange[];
  summary: { environments: number; regions: number; components: number; added: number; changed: number; removed: number };
}

// ---------------------------------------------------------------------------------------------
// Pipelines: POST /api/v1/pipelines/validate
// ---------------------------------------------------------------------------------------------

/** Pipeline files to check (at most 100, 1 MB each); each may call the others as sub-pipelines. Nothing is stored or run. */
export interface PipelineValidateRequest {
  files: { path: string; content: string }[];
}

/** Every problem of every file (file, 1-based line and column, document path, message); the files that are valid. */
export interface PipelineValidateResponse {
  ok: boolean;
  problems: PipelineProblem[];
  pipelines: { file: string; name: string; steps: number }[];
}

/** A component as the API shows it: deploy parameters its deploy/rollback action declares secret are masked. */
export interface ComponentView {
  name: string;
  repository: string;
  platform: 'bare-metal' | 'kvm' | 'vsphere' | 'docker';
  owner: string;
  puppetRole: string | null;
  hiera: Record<string, unknown>;
  checks: { name: string; command: string; timeout: number; interval: number; subscriptions: string[] }[];
  deployParams: Record<string, unknown>;
  actions: { build?: string; deploy?: string; rollback?: string };
  dependsOn: string[];
  /** environment → regions */
  placements: Record<string, string[]>;
  /** The file it was defined in. */
  source: string;
}

/** GET /api/v1/components */
export interface ComponentListResponse {
  components: ComponentView[];
}

/** GET /api/v1/components/:name/deps[?reverse=true] */
export interface ComponentDepsResponse {
  component: string;
  reverse: boolean;
  direct: string[];
  transitive: string[];
}

export type * from './api-types-deploy.js';
export * from './api-types-auth.js';
export * from './api-types-pipeline.js';
export * from './api-types-triggers.js';
export type * from './api-types-rules.js';
export type * from './api-types-sensors.js';
export * from './api-types-metrics.js';

/** GET /api/v1/packs/:pack/config (and the answer of PUT). */
export interface PackConfigResponse {
  pack: string;
  /** The keys of config.schema.yaml (null: the pack has none, any key may be set). */
  schema: Record<string, { type?: string | string[]; description?: string; default?: unknown; required?: boolean; secret?: boolean }> | null;
  /** Values set, secrets masked. */
  values: Record<string, { value: unknown; secret: boolean; setBy: string | null; updatedAt: string }>;
  /** Required keys without a value or default: the pack's python-script actions cannot run until they are set. */
  missing: string[];
}

/** GET /api/v1/packs/:pack/datastore. */
export interface DatastoreListResponse {
  pack: string;
  keys: { name: string; value: unknown; secret: boolean; expiresAt: string | null; updatedAt: string }[];
}

/** DELETE /api/v1/packs/:pack. */
export interface PackRemoveResponse {
  pack: string;
  removed: true;
  actions: string[];
}
