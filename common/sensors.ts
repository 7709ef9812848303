/**
 * Sensors: long-running watchers, each a workflow `sensor.<name>` that polls through activities (or
 * keeps a script running) and emits trigger instances. What the API, the workflows and the activities
 * share: names and ids, the workflow inputs (state carried across continue-as-new), the Sensu status
 * diff and the trigger keys that make an emission idempotent. Pure: workflow-safe.
 */
import { durationSeconds } from './pipeline.js';
import type { SensorKind } from './api-types-sensors.js';
import type { ActionSpec } from './types.js';

export const SENSOR_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A branch as git allows it, less exotic corners (no "..", "@{", leading "-" or "/", trailing ".lock"). */
export const GIT_BRANCH = /^(?!-)(?!\/)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock$)(?!.*[/.]$)[A-Za-z0-9._/+-]{1,200}$/;
/** A Sensu namespace. */
export const SENSU_NAMESPACE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export const SENSOR_KINDS = ['sensu', 'git', 'script'] as const satisfies readonly SensorKind[];
export const SENSOR_WORKFLOW_TYPES = { sensu: 'sensuSensor', git: 'gitSensor', script: 'scriptSensor' } as const satisfies Record<SensorKind, string>;
/** Default interval: between polls (sensu, git), or before a script that ended starts again (script). */
export const DEFAULT_SENSOR_INTERVAL: Record<SensorKind, string> = { sensu: '30s', git: '30s', script: '10s' };
export const MAX_SENSOR_INTERVAL_SECONDS = 86400;

export function sensorWorkflowId(name: string): string {
  return `sensor.${name}`;
}

/** The trigger source of a sensor's instances. */
export function sensorSource(name: string): string {
  return `sensor ${name}`;
}

export function sensorTriggerType(kind: SensorKind, name: string): string {
  return kind === 'sensu' ? 'sensu.event' : kind === 'git' ? 'git.push' : `sensor.${name}`;
}

/** A trigger instance's id: `sensor.<name>.<key>`, the key unique per event (so a retry or a replay emits nothing twice). */
export function sensorTriggerId(name: string, key: string): string {
  return `sensor.${name}.${key}`;
}

/** An interval ("10s", "5m", "1h") in whole seconds, 1 s to 1 day; undefined otherwise. */
export function sensorIntervalSeconds(text: string): number | undefined {
  const s = durationSeconds(text);
  if (s === undefined || s < 1 || s > MAX_SENSOR_INTERVAL_SECONDS) return undefined;
  return Math.round(s);
}

/** Counters of a sensor, carried across continue-as-new. */
export interface SensorStats {
  polls: number;
  /** Trigger instances this workflow recorded (new ones; duplicates not counted). */
  emitted: number;
  /** script: processes started. */
  starts: number;
  /** Continue-as-new generations so far. */
  generation: number;
  lastPollAt: string | null;
  lastEventAt: string | null;
  lastError: string | null;
}

export const NEW_SENSOR_STATS: SensorStats = { polls: 0, emitted: 0, starts: 0, generation: 0, lastPollAt: null, lastEventAt: null, lastError: null };

/** What the `sensorStatus` query answers. */
export interface SensorStatus extends SensorStats {
  kind: SensorKind;
  details: string;
}

interface SensorInputBase {
  name: string;
  interval: string;
  intervalSeconds: number;
  region: string;
  createdBy: string;
  stats?: SensorStats;
  /** Polls (or process starts) before continuing as new; default 500 (tests make it small). */
  runsPerGeneration?: number;
}

export interface SensuSensorInput extends SensorInputBase {
  namespace: string;
  /** Last known status per `entity/check`; absent until the first poll recorded the baseline. */
  statuses?: Record<string, number>;
}

export interface GitSensorInput extends SensorInputBase {
  url: string;
  branch: string;
  /** The branch's commit at the last poll (null: the branch did not exist); absent until the first poll. */
  baseline?: { sha: string | null };
}

export interface ScriptSensorInput extends SensorInputBase {
  /** The action as it was when the sensor was created (pinned, like a run). */
  action: ActionSpec;
  /** Validated, defaults applied, secret values sealed. */
  parameters: Record<string, unknown>;
  /** Processes in a row that ended within their first minute (the backoff grows with it). */
  quickEnds?: number;
}

/** A Sensu event as far as the diff reads it. */
export interface SensuEventLike {
  entity?: { metadata?: { name?: string } };
  check?: { metadata?: { name?: string }; status?: unknown; executed?: unknown };
  timestamp?: unknown;
}

export interface SensuChange {
  /** `entity/check/timestamp/status`: the trigger key. */
  key: string;
  /** The event as Sensu returned it, plus `previous_status` (null: a check seen for the first time). */
  payload: Record<string, unknown>;
}

export interface SensuDiff {
  changes: SensuChange[];
  /** New statuses by `entity/check` (changed or new ones only). */
  updates: Record<string, number>;
  /** Checks no longer in Sensu (their event was deleted). */
  removed: string[];
  /** Events read. */
  seen: number;
}

export function sensuCheckKey(e: SensuEventLike): string | undefined {
  const entity = e.entity?.metadata?.name;
  const check = e.check?.metadata?.name;
  return typeof entity === 'string' && typeof check === 'string' && entity && check ? `${entity}/${check}` : undefined;
}

/**
 * Which events are status changes since `known`. The first poll (`known` undefined) only records the
 * baseline: nothing is emitted for checks that were already failing when the sensor started. Later, a
 * check whose status differs from the last one seen emits; a check seen for the first time emits when
 * its status is not OK (0), with `previous_status: null`.
 */
export function diffSensuEvents(known: Record<string, number> | undefined, events: SensuEventLike[]): SensuDiff {
  const updates: Record<string, number> = {};
  const changes: SensuChange[] = [];
  const present = new Set<string>();
  for (const e of events) {
    const key = sensuCheckKey(e);
    const status = e.check?.status;
    if (!key || typeof status !== 'number' || !Number.isInteger(status)) continue;
    present.add(key);
    const previous = known?.[key];
    if (previous === status) continue;
    updates[key] = status;
    if (known === undefined || (previous === undefined && status === 0)) continue;
    const at = typeof e.timestamp === 'number' && e.timestamp > 0 ? e.timestamp : typeof e.check?.executed === 'number' ? e.check.executed : 0;
    changes.push({ key: `${key}/${at}/${status}`, payload: { ...(e as Record<string, unknown>), previous_status: previous ?? null } });
  }
  const removed = known ? Object.keys(known).filter((k) => !present.has(k)) : [];
  return { changes, updates, removed, seen: events.length };
}

/** The trigger key of a branch move: `<before or "none">..<after>` (a branch moved back to a commit it had is a new event). */
export function gitPushKey(before: string | null, after: string): string {
  return `${before ?? 'none'}..${after}`;
}

/** A line's own `id`, usable as a trigger key: a string or number of 1 to 200 printable characters. */
export function lineId(obj: Record<string, unknown>): string | undefined {
  const id = obj.id;
  const s = typeof id === 'string' ? id : typeof id === 'number' && Number.isFinite(id) ? String(id) : undefined;
  return s !== undefined && /^[\x21-\x7e]{1,200}$/.test(s) ? s : undefined;
}

/** "polling every 10s, 3 events emitted, last poll 12:00:01" — the Web UI's current details. */
export function sensorDetails(kind: SensorKind, interval: string, stats: SensorStats): string {
  const at = (iso: string | null) => (iso ? `${iso.slice(11, 19)} UTC` : 'none yet');
  const what =
    kind === 'script'
      ? `process started ${stats.starts} time(s), restarted ${interval} after it ends`
      : `polling every ${interval}, last poll ${at(stats.lastPollAt)}`;
  const error = stats.lastError ? `; last error: ${stats.lastError.slice(0, 200)}` : '';
  return `${what}, ${stats.emitted} event(s) emitted${stats.lastEventAt ? ` (last ${at(stats.lastEventAt)})` : ''}${error}`;
}
