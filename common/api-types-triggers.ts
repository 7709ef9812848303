/** Request and response types of the trigger routes: generic webhooks, trigger instances and traces. */

/** A run a trigger started: its workflow id, what it is, the rule that started it, or why it could not start. */
export interface TriggerRun {
  workflowId: string;
  /** `action`, `pipeline`, `github-push`, `ingest` … */
  kind: string;
  rule?: string;
  error?: string;
}

/** One trigger instance (GET /api/v1/triggers, /api/v1/triggers/:id). */
export interface TriggerRecord {
  id: string;
  /** `github.push`, `webhook.<name>`, `sensu.event`, `git.push`, `sensor.<name>` … */
  type: string;
  /** Where it came from: `webhook github`, `webhook <name>`, `sensor <name>`. */
  source: string;
  deliveryId: string | null;
  /** SHA-256 of the payload as canonical JSON (keys sorted): the payload itself is not kept. */
  payloadDigest: string;
  payloadSize: number;
  receivedAt: string;
  /** `pending` (a sensor's, waiting for the dispatcher), `received` (being dispatched), then `dispatched`, or `failed` when no run could start. */
  status: 'pending' | 'received' | 'dispatched' | 'failed';
  note: string | null;
  /** The rules it matched, at the version that matched. */
  matched: { rule: string; version: number }[];
  dispatchedAt: string | null;
  /**
   * What the instance said that outlives its payload: for a `github.push`, the pushed commit
   * (`commit`), its timestamp (`committedAt`, ISO 8601) and author (`author`: GitHub login, else name),
   * recorded when it was received (delivery metrics use them); null for other types.
   */
  metadata: Record<string, unknown> | null;
  runs: TriggerRun[];
}

export interface TriggerListResponse {
  triggers: TriggerRecord[];
}

/** What a webhook delivery did (202). */
export interface WebhookDeliveryResponse {
  trigger: string;
  type: string;
  duplicate?: boolean;
  matched: { rule: string; version: number }[];
  runs: TriggerRun[];
}

/** POST /api/v1/webhooks (declare one). */
export interface WebhookCreateRequest {
  name: string;
  auth: 'hmac' | 'token';
  /** The HMAC secret or the token; generated (and shown once) when left out. */
  secret?: string;
  /** HMAC: the header holding `sha256=<hex>` (default X-Hub-Signature-256). Token: the header holding the token (default X-Stackwire-Token; `Authorization: Bearer` is accepted too). */
  header?: string;
  description?: string;
}

export interface WebhookView {
  name: string;
  auth: 'hmac' | 'token';
  header: string;
  description: string;
  url: string;
  triggerType: string;
  createdBy: string;
  createdAt: string;
}

export interface WebhookCreateResponse extends WebhookView {
  /** Shown once, when generated here. */
  secret?: string;
}

export interface WebhookListResponse {
  webhooks: WebhookView[];
}

/** One run in a trace, with its state read from Temporal. */
export interface TraceRun extends TriggerRun {
  status: string;
  type?: string;
  startTime?: string;
  closeTime?: string;
  /** Runs it started in turn (a push's pipeline runs). */
  children?: TraceRun[];
}

/** GET /api/v1/traces/:id — a trigger instance or a run id, followed from the event to its runs. */
export interface TraceResponse {
  /** What the id was found as. */
  found: 'trigger' | 'run';
  trigger: Omit<TriggerRecord, 'runs'> | null;
  /** When the id is a run no trigger instance started (an operator, a schedule): what did. */
  origin?: { kind: string; by?: string; schedule?: string };
  runs: TraceRun[];
}
