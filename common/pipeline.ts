/**
 * Pipelines as code: the definition a pipeline file (`.stackwire/pipelines/*.yml`) validates into, and
 * what a pipeline run takes and reports. Types only and small pure helpers: workflow-safe.
 *
 * The file format is published as a JSON Schema (schemas/pipeline.schema.json); README: Pipelines.
 */
import type { ActionSpec } from './types.js';

/** The built-in step kinds besides `action:`. */
export const BUILTINS = ['deploy', 'release', 'puppet', 'check', 'approval', 'pipeline', 'sleep'] as const;
export type Builtin = (typeof BUILTINS)[number];

export type InputType = 'string' | 'number' | 'boolean' | 'list' | 'object';

export interface PipelineInput {
  type: InputType;
  description?: string;
  required?: boolean;
  default?: unknown;
  /** Allowed values (string inputs). */
  enum?: string[];
}

export interface RetrySpec {
  /** Attempts in all (1: no retry). */
  attempts: number;
  /** Seconds before the second attempt; doubled for each further one (default 1). */
  backoff?: number;
}

export interface ApprovalSpec {
  /** Who may approve: actors (key owners); empty or absent: anyone with `deployments.approve`, never the run's requester. */
  approvers?: string[];
  /** How long to wait, e.g. "30m", "2h", or seconds. */
  deadline: string | number;
  /** Shown to approvers. */
  message?: string;
}

/** One step as written (expressions unevaluated). Exactly one of `action` or a built-in is set. */
export interface StepDef {
  id: string;
  name?: string;
  action?: string;
  with?: Record<string, unknown>;
  deploy?: Record<string, unknown>;
  release?: Record<string, unknown>;
  puppet?: Record<string, unknown>;
  check?: Record<string, unknown>;
  approval?: ApprovalSpec;
  /** A sub-pipeline: its name (resolved when the run starts and pinned with it). */
  pipeline?: string;
  /** A sleep: "30s", "5m" or seconds. */
  sleep?: string | number;
  needs?: string[];
  if?: string;
  retry?: RetrySpec;
  /** "30s", "10m" or seconds. */
  timeout?: string | number;
  /** How long an action step waits for a worker of its region before it fails ("30s", "10m" or seconds; default 5 minutes). */
  worker_wait?: string | number;
  region?: string;
  regions?: string[] | string;
  /** A list, or an expression that gives one; the step runs once per item (`${{ item }}`). */
  for_each?: unknown[] | string;
  /** Items at a time in a for_each (default 10). */
  concurrency?: number;
  continue_on_error?: boolean;
}

/** What a trigger (a push, a rule) a pipeline answers to; matched by the trigger issue's code. */
export interface PipelineOn {
  push?: { branches?: string[]; tags?: string[]; paths?: string[] };
  schedule?: { cron: string }[];
  [kind: string]: unknown;
}

export interface PipelineDef {
  name: string;
  description?: string;
  on?: PipelineOn;
  inputs?: Record<string, PipelineInput>;
  env?: Record<string, string>;
  steps: StepDef[];
  outputs?: Record<string, string>;
  on_failure?: StepDef[];
}

/** Where a definition came from, for messages and the run's record. */
export interface PipelineSource {
  kind: 'file' | 'component' | 'pack';
  /** File path (within the repository for component sources). */
  path: string;
  component?: string;
  repository?: string;
  ref?: string;
  commit?: string;
  pack?: string;
}

/** A validation problem with its place in the file (1-based line and column). */
export interface PipelineProblem {
  file: string;
  line: number;
  column: number;
  /** Where in the document, e.g. `steps[2].with.port`. */
  path: string;
  message: string;
}

/** What `pipelineRun` takes for a pipeline file (the old fixed-sequence input is PipelineRunInput in types.ts). */
export interface PipelineRunRequest {
  kind: 'definition';
  runId: string;
  definition: PipelineDef;
  /** Sub-pipelines by name, validated and pinned with the run. */
  pipelines: Record<string, PipelineDef>;
  /** The actions the definition names (sub-pipelines' included), as the catalog had them at start. */
  actions: Record<string, ActionSpec>;
  source: PipelineSource;
  inputs: Record<string, unknown>;
  trigger: Record<string, unknown>;
  /** The component's source-of-truth fields (component runs). */
  component?: Record<string, unknown>;
  actor: string;
  /** Region of steps that name none. */
  defaultRegion: string;
  regions: string[];
  /** Re-run: outputs of steps to reuse instead of running them (from an earlier run). */
  reuse?: Record<string, StepResult>;
  /** Re-run: the run whose outputs are reused. */
  rerunOf?: string;
  /** The run's secrets, each sealed ({"$sealed": …}) with the stack's key: only the worker running a script opens them. */
  secrets?: Record<string, unknown>;
  /** Environments flagged protected in the source of truth when the run started: their deploys always wait for an approval. */
  protectedEnvironments?: string[];
  /** Nesting depth of sub-pipelines (a sub-pipeline cycle stops at 10). */
  depth?: number;
}

export type StepStatus = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'reused' | 'cancelled';

export interface StepResult {
  id: string;
  status: StepStatus;
  outputs: Record<string, unknown>;
  startedAt?: string;
  finishedAt?: string;
  attempts?: number;
  error?: string;
  /** for_each: items done and failed. */
  items?: { total: number; succeeded: number; failed: number };
  /** approval: who decided. */
  decidedBy?: string;
  /** Execution ids the step started (actions), for logs. */
  executions?: string[];
}

export interface PipelineRunState {
  runId: string;
  pipeline: string;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  steps: StepResult[];
  outputs: Record<string, unknown>;
  error?: string;
  /** Steps waiting for an approval, with who may approve. */
  waiting: { step: string; approvers: string[]; message?: string; deadline: string }[];
}

/** Seconds from "90", 90, "30s", "5m", "2h", "1d". */
export function durationSeconds(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

/** The step's kind: the action name's `action`, or the built-in it uses. */
export function stepKind(s: StepDef): 'action' | Builtin | undefined {
  if (s.action !== undefined) return 'action';
  return BUILTINS.find((b) => s[b] !== undefined);
}
