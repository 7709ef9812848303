/**
 * The API's bodies for pipeline runs (re-exported by api-types.ts). Types only, workflow-safe.
 * README: Pipelines.
 */
import type { PipelineRunState } from './pipeline.js';

/** POST /api/v1/pipelines/runs: the pipeline file and the files of its sub-pipelines, checked together. */
export interface PipelineRunStartRequest {
  /** The files, or `component` (and `ref`): its repository's .stackwire/pipelines/*.yml at that ref. */
  files?: { path: string; content: string }[];
  /** A component of the source of truth: its pipelines are read from its repository by a regional worker; `component` in expressions holds its fields. */
  component?: string;
  /** Branch, tag or commit of the component's repository (default: its default branch). */
  ref?: string;
  /** A pack: its `pipelines/*.yml` as its current version holds them. */
  pack?: string;
  /** Which of the files' pipelines to run (default: the first file's). */
  pipeline?: string;
  /** Typed as the pipeline declares them; defaults applied; unknown or missing required ones are a 400. */
  inputs?: Record<string, unknown>;
  /** Inputs as the CLI takes them (`key=value`), typed by the pipeline's declarations on the server. */
  inputPairs?: string[];
  /**
   * Secrets for `${{ secrets.NAME }}` (a whole parameter value only): sealed by the API with the stack's
   * key before anything is stored; only the worker that runs the script opens them; masked in its output.
   */
  secrets?: Record<string, string>;
  /** Region of steps that name none (default: the first configured region). */
  region?: string;
  /** What started it, for the run's search attributes (default "api"; the CLI says "cli"). */
  trigger?: string;
}

export interface PipelineRunStartResponse {
  id: string;
  pipeline: string;
  steps: string[];
}

/** GET /api/v1/pipelines/runs/:id: every step with status, outputs and timings. */
export interface PipelineRunView extends PipelineRunState {
  workflowStatus: string;
  startedAt: string;
  closedAt: string | null;
}

export interface PipelineRunListResponse {
  runs: { id: string; pipeline: string; actor: string; status: string; startedAt: string; closedAt: string | null }[];
}

/** POST /api/v1/pipelines/runs/:id/decide: approve or reject a waiting approval step. */
export interface PipelineDecideRequest {
  step: string;
  approve: boolean;
  reason?: string;
}

export interface PipelineDecideResponse {
  step: string;
  decidedBy: string;
  approved: boolean;
}

/** POST /api/v1/pipelines/runs/:id/rerun: a new run from this step; the others' recorded outputs are reused. */
export interface PipelineRerunRequest {
  from: string;
}

export interface PipelineRerunResponse extends PipelineRunStartResponse {
  rerunOf: string;
  reused: string[];
}

/** POST /api/v1/schedules: a pipeline run on a cron or an interval (a Temporal Schedule). */
export interface ScheduleCreateRequest {
  /** Lower-case letters, digits and dashes. */
  name: string;
  cron?: string[];
  /** An interval: "30s", "15m", "1h", or seconds. */
  every?: string;
  /** What to run, as POST /api/v1/pipelines/runs takes it; validated and pinned now. */
  run: PipelineRunStartRequest;
  /** When a firing finds the last run still going (default skip). */
  overlap?: 'skip' | 'buffer-one' | 'buffer-all' | 'cancel-other' | 'terminate-other' | 'allow-all';
  /** How far back missed firings are caught up after an outage (default: Temporal's, a year). */
  catchupWindow?: string;
  paused?: boolean;
  note?: string;
}

export interface ScheduleListResponse {
  schedules: {
    name: string;
    pipeline: string;
    paused: boolean;
    note: string;
    cron: string[];
    every: string[];
    recentRuns: { at: string; workflowId: string }[];
    nextRuns: string[];
  }[];
}
