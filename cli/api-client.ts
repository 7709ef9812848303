/**
 * The CLI's only way to Stackwire: the HTTP API, one typed method per route. Request and response
 * types are the API's own (common/api-types.ts). Every request carries `Authorization: Bearer <key>`
 * when a key is configured, and `X-Stackwire-Trigger: cli`.
 */
import type {
  ActionListResponse,
  ActionView,
  ApiErrorBody,
  ApiKeyCreateRequest,
  ApiKeyCreateResponse,
  ApiKeyListResponse,
  ApiKeyRevokeResponse,
  ApproveResponse,
  AuditListQuery,
  AuditListResponse,
  AuditVerifyResponse,
  BlobsMissingRequest,
  BlobsMissingResponse,
  BlobsUploadRequest,
  BlobsUploadResponse,
  CancelResponse,
  ComponentDepsResponse,
  ComponentListResponse,
  ComponentView,
  DeployHttpRequest,
  DeployResponse,
  DeploymentListResponse,
  DeploymentView,
  ExecutionListResponse,
  ExecutionView,
  GateDecisionRequest,
  IngestHttpRequest,
  LogPage,
  PackListResponse,
  PackConfigResponse,
  PackRemoveResponse,
  DatastoreListResponse,
  PipelineValidateRequest,
  PipelineValidateResponse,
  RejectResponse,
  RuleGetResponse,
  ReleaseRequest,
  ReleaseResponse,
  RunRequest,
  RunResponse,
  SotApplyRequest,
  SotApplyResponse,
  LoginLinkResponse,
  PipelineDecideRequest,
  PipelineDecideResponse,
  PipelineRerunResponse,
  PipelineRunListResponse,
  PipelineRunStartRequest,
  PipelineRunStartResponse,
  PipelineRunView,
  ScheduleCreateRequest,
  ScheduleListResponse,
  WhoamiResponse,
  RuleApplyResponse,
  RuleListResponse,
  TraceResponse,
  TriggerListResponse,
  TriggerRecord,
  WebhookCreateRequest,
  WebhookCreateResponse,
  WebhookListResponse,
} from '../common/api-types.js';
import type { SensorCreateRequest, SensorCreateResponse, SensorDeleteResponse, SensorListResponse, SensorView } from '../common/api-types-sensors.js';
import type { DeliveryMetricsQuery, DeliveryMetricsResponse } from '../common/api-types-metrics.js';
import type { IngestItemKind, IngestItemsResponse, IngestStartResponse, IngestView } from '../common/api-types-ingest.js';

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class ApiUnreachableError extends Error {}

export interface ApiAuth {
  /** The key sent as a bearer token; undefined: none configured (the API will answer 401). */
  apiKey: string | undefined;
  /** Where the key would be read from, for the message when there is none. */
  credentialsFile: string;
}

const enc = encodeURIComponent;

function query(q: Record<string, string | number | boolean | undefined>): string {
  const entries = Object.entries(q).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}` : '';
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly auth: ApiAuth,
  ) {}

  private async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { 'x-stackwire-trigger': 'cli' };
    if (this.auth.apiKey) headers.authorization = `Bearer ${this.auth.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiUnreachableError(
        `cannot reach the Stackwire API at ${this.baseUrl} (${cause}). Start it with 'npm start', or point --api / STACKWIRE_API_URL at a running one.`,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiRequestError(res.status, 'bad_response', `the API answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) throw this.failure(res, (json as Partial<ApiErrorBody>).error);
    return json as T;
  }

  private failure(res: Response, e: Partial<ApiErrorBody['error']> | undefined): ApiRequestError {
    const code = e?.code ?? 'error';
    const message = e?.message ?? `HTTP ${res.status}`;
    if (res.status === 401 && !this.auth.apiKey) {
      return new ApiRequestError(
        401,
        'no_api_key',
        `no API key: set STACKWIRE_API_KEY or create one with \`stackwire apikey create\` (npm start writes one to ${this.auth.credentialsFile})`,
      );
    }
    if (res.status === 429) {
      const after = res.headers.get('retry-after');
      return new ApiRequestError(429, code, `${message}${after ? ` (retry after ${after} seconds)` : ''}`, e?.details);
    }
    return new ApiRequestError(res.status, code, message, e?.details);
  }

  // Actions
  listActions(pack?: string): Promise<ActionListResponse> {
    return this.request('GET', `/api/v1/actions${query({ pack })}`);
  }
  getAction(name: string): Promise<ActionView> {
    return this.request('GET', `/api/v1/actions/${enc(name)}`);
  }

  // Executions
  run(req: RunRequest): Promise<RunResponse> {
    return this.request('POST', '/api/v1/executions', req);
  }
  getExecution(id: string, waitSeconds?: number): Promise<ExecutionView> {
    return this.request('GET', `/api/v1/executions/${enc(id)}${query({ wait: waitSeconds })}`);
  }
  listExecutions(q: { limit: string; action?: string }): Promise<ExecutionListResponse> {
    return this.request('GET', `/api/v1/executions${query(q)}`);
  }
  executionLogs(id: string, after: number, waitSeconds: number): Promise<LogPage> {
    return this.request('GET', `/api/v1/executions/${enc(id)}/logs?after=${after}&wait=${waitSeconds}`);
  }
  resolveExecution(id: string, decision: 'retry' | 'succeeded' | 'failed', reason?: string): Promise<{ id: string; decision: string; decidedBy: string }> {
    return this.request('POST', `/api/v1/executions/${enc(id)}/resolve`, { decision, ...(reason ? { reason } : {}) });
  }
  cancelExecution(id: string): Promise<CancelResponse> {
    return this.request('POST', `/api/v1/executions/${enc(id)}/cancel`);
  }

  // Packs
  missingBlobs(req: BlobsMissingRequest): Promise<BlobsMissingResponse> {
    return this.request('POST', '/api/v1/blobs/missing', req);
  }
  uploadBlobs(req: BlobsUploadRequest): Promise<BlobsUploadResponse> {
    return this.request('POST', '/api/v1/blobs', req);
  }
  listPacks(): Promise<PackListResponse> {
    return this.request('GET', '/api/v1/packs');
  }
  removePack(pack: string): Promise<PackRemoveResponse> {
    return this.request('DELETE', `/api/v1/packs/${encodeURIComponent(pack)}`);
  }
  packConfig(pack: string): Promise<PackConfigResponse> {
    return this.request('GET', `/api/v1/packs/${encodeURIComponent(pack)}/config`);
  }
  setPackConfig(pack: string, body: { set?: Record<string, unknown>; unset?: string[] }): Promise<PackConfigResponse> {
    return this.request('PUT', `/api/v1/packs/${encodeURIComponent(pack)}/config`, body);
  }
  datastoreList(pack: string, prefix?: string): Promise<DatastoreListResponse> {
    return this.request('GET', `/api/v1/packs/${encodeURIComponent(pack)}/datastore${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`);
  }
  datastoreSet(pack: string, name: string, body: { value: string; secret?: boolean; ttl?: number }): Promise<{ stored: boolean }> {
    return this.request('PUT', `/api/v1/packs/${encodeURIComponent(pack)}/datastore/${encodeURIComponent(name)}`, body);
  }
  datastoreDelete(pack: string, name: string): Promise<{ deleted: boolean }> {
    return this.request('DELETE', `/api/v1/packs/${encodeURIComponent(pack)}/datastore/${encodeURIComponent(name)}`);
  }
  ingest(pack: string, req: IngestHttpRequest): Promise<IngestStartResponse> {
    return this.request('POST', `/api/v1/packs/${enc(pack)}/ingest`, req);
  }
  getIngest(id: string, waitSeconds?: number): Promise<IngestView> {
    return this.request('GET', `/api/v1/ingests/${enc(id)}${query({ wait: waitSeconds })}`);
  }
  ingestItems(id: string, q: { after?: number; limit?: number; kind?: IngestItemKind }): Promise<IngestItemsResponse> {
    return this.request('GET', `/api/v1/ingests/${enc(id)}/items${query({ ...q })}`);
  }

  // Source of truth
  sotSecrets(): Promise<{ secrets: { name: string; setBy: string | null; updatedAt: string }[] }> {
    return this.request('GET', '/api/v1/sot/secrets');
  }
  setSotSecret(name: string, value: string): Promise<{ stored: boolean }> {
    return this.request('PUT', `/api/v1/sot/secrets/${encodeURIComponent(name)}`, { value });
  }
  deleteSotSecret(name: string): Promise<{ deleted: boolean }> {
    return this.request('DELETE', `/api/v1/sot/secrets/${encodeURIComponent(name)}`);
  }
  applySot(req: SotApplyRequest): Promise<SotApplyResponse> {
    return this.request('POST', '/api/v1/sot/apply', req);
  }
  listComponents(): Promise<ComponentListResponse> {
    return this.request('GET', '/api/v1/components');
  }
  getComponent(name: string): Promise<ComponentView> {
    return this.request('GET', `/api/v1/components/${enc(name)}`);
  }
  componentDeps(name: string, reverse: boolean): Promise<ComponentDepsResponse> {
    return this.request('GET', `/api/v1/components/${enc(name)}/deps${reverse ? '?reverse=true' : ''}`);
  }

  // Pipelines
  validatePipelines(req: PipelineValidateRequest): Promise<PipelineValidateResponse> {
    return this.request('POST', '/api/v1/pipelines/validate', req);
  }

  // Rules
  getRule(name: string): Promise<RuleGetResponse> {
    return this.request('GET', `/api/v1/rules/${enc(name)}`);
  }

  // Deployments
  deploy(req: DeployHttpRequest): Promise<DeployResponse> {
    return this.request('POST', '/api/v1/deployments', req);
  }
  release(req: ReleaseRequest): Promise<ReleaseResponse> {
    return this.request('POST', '/api/v1/releases', req);
  }
  listDeployments(q: { limit: string; component?: string; environment?: string }): Promise<DeploymentListResponse> {
    return this.request('GET', `/api/v1/deployments${query(q)}`);
  }
  getDeployment(id: string): Promise<DeploymentView> {
    return this.request('GET', `/api/v1/deployments/${enc(id)}`);
  }
  approve(id: string, req: GateDecisionRequest): Promise<ApproveResponse> {
    return this.request('POST', `/api/v1/deployments/${enc(id)}/approve`, req);
  }
  reject(id: string, req: GateDecisionRequest): Promise<RejectResponse> {
    return this.request('POST', `/api/v1/deployments/${enc(id)}/reject`, req);
  }

  // Keys, identity, audit
  createApiKey(req: ApiKeyCreateRequest): Promise<ApiKeyCreateResponse> {
    return this.request('POST', '/api/v1/apikeys', req);
  }
  listApiKeys(): Promise<ApiKeyListResponse> {
    return this.request('GET', '/api/v1/apikeys');
  }
  revokeApiKey(id: string): Promise<ApiKeyRevokeResponse> {
    return this.request('POST', `/api/v1/apikeys/${enc(id)}/revoke`);
  }
  // Pipeline runs
  startPipelineRun(req: PipelineRunStartRequest): Promise<PipelineRunStartResponse> {
    return this.request('POST', '/api/v1/pipelines/runs', req);
  }
  listPipelineRuns(pipeline?: string, limit?: number): Promise<PipelineRunListResponse> {
    return this.request('GET', `/api/v1/pipelines/runs${query({ pipeline, limit: limit !== undefined ? String(limit) : undefined })}`);
  }
  getPipelineRun(id: string): Promise<PipelineRunView> {
    return this.request('GET', `/api/v1/pipelines/runs/${enc(id)}`);
  }
  cancelPipelineRun(id: string): Promise<{ id: string; cancelRequested: boolean }> {
    return this.request('POST', `/api/v1/pipelines/runs/${enc(id)}/cancel`, {});
  }
  rerunPipeline(id: string, from: string): Promise<PipelineRerunResponse> {
    return this.request('POST', `/api/v1/pipelines/runs/${enc(id)}/rerun`, { from });
  }
  decidePipelineStep(id: string, req: PipelineDecideRequest): Promise<PipelineDecideResponse> {
    return this.request('POST', `/api/v1/pipelines/runs/${enc(id)}/decide`, req);
  }

  // Schedules
  createSchedule(req: ScheduleCreateRequest): Promise<{ name: string; scheduleId: string; pipeline: string }> {
    return this.request('POST', '/api/v1/schedules', req);
  }
  listSchedules(): Promise<ScheduleListResponse> {
    return this.request('GET', '/api/v1/schedules');
  }
  scheduleOp(name: string, op: 'pause' | 'unpause' | 'trigger' | 'delete'): Promise<Record<string, unknown>> {
    return this.request('POST', `/api/v1/schedules/${enc(name)}/${op}`, {});
  }

  // Triggers: generic webhooks, trigger instances, traces, rules
  createWebhook(req: WebhookCreateRequest): Promise<WebhookCreateResponse> {
    return this.request('POST', '/api/v1/webhooks', req);
  }
  listWebhooks(): Promise<WebhookListResponse> {
    return this.request('GET', '/api/v1/webhooks');
  }
  deleteWebhook(name: string): Promise<{ name: string; deleted: boolean }> {
    return this.request('POST', `/api/v1/webhooks/${enc(name)}/delete`, {});
  }
  listTriggers(q: { type?: string; source?: string; limit?: number }): Promise<TriggerListResponse> {
    return this.request('GET', `/api/v1/triggers${query({ ...q })}`);
  }
  getTrigger(id: string): Promise<TriggerRecord> {
    return this.request('GET', `/api/v1/triggers/${enc(id)}`);
  }
  trace(id: string): Promise<TraceResponse> {
    return this.request('GET', `/api/v1/traces/${enc(id)}`);
  }
  applyRules(files: { path: string; content: string }[], dryRun: boolean): Promise<RuleApplyResponse> {
    return this.request('POST', '/api/v1/rules/apply', { files, dryRun });
  }
  listRules(trigger?: string): Promise<RuleListResponse> {
    return this.request('GET', `/api/v1/rules${query({ trigger })}`);
  }
  deleteRule(name: string): Promise<{ name: string; deleted: boolean }> {
    return this.request('POST', `/api/v1/rules/${enc(name)}/delete`, {});
  }

  uiLoginLink(next?: string): Promise<LoginLinkResponse> {
    return this.request('POST', '/api/v1/ui/login-links', next ? { next } : {});
  }

  whoami(): Promise<WhoamiResponse> {
    return this.request('GET', '/api/v1/whoami');
  }
  listAudit(q: AuditListQuery): Promise<AuditListResponse> {
    return this.request('GET', `/api/v1/audit${query({ ...q })}`);
  }
  verifyAudit(): Promise<AuditVerifyResponse> {
    return this.request('GET', '/api/v1/audit/verify');
  }

  // Sensors
  createSensor(req: SensorCreateRequest): Promise<SensorCreateResponse> {
    return this.request('POST', '/api/v1/sensors', req);
  }
  listSensors(): Promise<SensorListResponse> {
    return this.request('GET', '/api/v1/sensors');
  }
  getSensor(name: string): Promise<SensorView> {
    return this.request('GET', `/api/v1/sensors/${enc(name)}`);
  }
  deleteSensor(name: string): Promise<SensorDeleteResponse> {
    return this.request('DELETE', `/api/v1/sensors/${enc(name)}`);
  }

  // Metrics
  deliveryMetrics(q: DeliveryMetricsQuery): Promise<DeliveryMetricsResponse> {
    return this.request('GET', `/api/v1/metrics/delivery${query({ ...q })}`);
  }
}
