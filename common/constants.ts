/**
 * Names shared by every side: task queues, search attributes, workflow types.
 * Pure: imported by workflows as well as by the API, workers and CLI.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TASK_QUEUE_PREFIX = 'stackwire.';
/** The orchestrator's queue: workflows that span regions, no activities. */
export const ORCHESTRATOR_TASK_QUEUE = 'stackwire.orchestrator';

/** One task queue per region; that region's workers host its workflows and all their activities. */
export function regionTaskQueue(region: string): string {
  return `${TASK_QUEUE_PREFIX}${region}`;
}

/**
 * The failure type of an action attempt that Temporal let go of while its script ran (its worker shuts
 * down, its heartbeat timed out): the script was stopped, and the workflow counts a lost worker.
 */
export const ATTEMPT_ABANDONED = 'AttemptAbandoned';

/**
 * An action attempt's heartbeat timeout, in seconds: how long its worker may be silent before the run
 * counts as lost (a dead worker's idempotent run resumes about this long after the death), and so the
 * longest outage of the Temporal server a running script survives (its heartbeats reach the server
 * every second). 10 s lost every running action to a Temporal restart of 8.5 s on a loaded machine.
 */
/**
 * The most a StackStorm pack's Python environment may take to build on first use (pip install of its
 * requirements.txt): it is added to the safety-net timeout of that pack's python-script runs.
 */
export const PACK_ENV_BUILD_SECONDS = 600;

export const ACTION_HEARTBEAT_TIMEOUT_SECONDS = 30;

export const SearchAttributes = {
  Component: defineSearchAttributeKey('Component', SearchAttributeType.KEYWORD),
  Env: defineSearchAttributeKey('Env', SearchAttributeType.KEYWORD),
  Region: defineSearchAttributeKey('Region', SearchAttributeType.KEYWORD),
  Version: defineSearchAttributeKey('Version', SearchAttributeType.KEYWORD),
  Pipeline: defineSearchAttributeKey('Pipeline', SearchAttributeType.KEYWORD),
  Trigger: defineSearchAttributeKey('Trigger', SearchAttributeType.KEYWORD),
  Actor: defineSearchAttributeKey('Actor', SearchAttributeType.KEYWORD),
  Action: defineSearchAttributeKey('Action', SearchAttributeType.KEYWORD),
  /** The trigger instance (webhook delivery, sensor event) a run was started for: `stackwire trace`. */
  TriggerId: defineSearchAttributeKey('TriggerId', SearchAttributeType.KEYWORD),
} as const;

/** Every custom search attribute the server must know; registered when a dev server starts. */
export const ALL_SEARCH_ATTRIBUTES = Object.values(SearchAttributes);

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;
export type ExecutionStatus = 'scheduled' | 'running' | 'lost' | (typeof TERMINAL_STATUSES)[number];

export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/**
 * The one workflow id a deploy of a component to an environment runs under (so a second one is
 * refused). Names are letters, digits and dashes, so the dots keep it unambiguous: "search-index" in
 * "prod" and "search" in "index-prod" are different deploys.
 */
export function deploymentWorkflowId(component: string, environment: string): string {
  return `deploy.${component}.${environment}`;
}

/** The id before 2026-11 (dashes), kept for release trains that started with it. */
export function legacyDeploymentWorkflowId(component: string, environment: string): string {
  return `deploy-${component}-${environment}`;
}
