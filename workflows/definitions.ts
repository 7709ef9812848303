/**
 * The signals, updates and queries of Stackwire's workflows. Safe to import on both sides: the
 * workflows register handlers for them, and the API and tests send them through these typed
 * definitions, never by string name.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PipelineRunState } from '../common/pipeline.js';
import type { SensorStatus } from '../common/sensors.js';

/** A deploy's state while it runs (`status` query). */
export interface DeployStatus {
  phase: string;
  waves: string[][];
  done: string[];
  awaitingApproval: boolean;
}

export const approveSignal = defineSignal<[{ actor: string }]>('approve');
export const rejectSignal = defineSignal<[{ actor: string; reason?: string }]>('reject');
/**
 * The same decisions as updates: the validator refuses them unless a gate is open and undecided, so
 * the caller learns atomically whether its decision counted (a signal sent just as the gate expires
 * would be accepted and ignored).
 */
export const approveUpdate = defineUpdate<{ approvedBy: string }, [{ actor: string }]>('approveGate');
export const rejectUpdate = defineUpdate<{ rejectedBy: string }, [{ actor: string; reason?: string }]>('rejectGate');
export const deployStatusQuery = defineQuery<DeployStatus>('status');

/** A pipeline run's state while it runs (`pipelineState` query): every step with status, outputs and timings. */
export const pipelineStateQuery = defineQuery<PipelineRunState>('pipelineState');
/** A for_each step's fan-out while it runs (`forEachProgress` query of its `pipelineForEach` child): items done and failed. */
export const forEachProgressQuery = defineQuery<{ total: number; succeeded: number; failed: number }>('forEachProgress');
/**
 * A decision on a pipeline's approval step. The validator refuses it unless that step is waiting,
 * the actor may approve it (its approvers, never the run's requester), so the caller learns whether
 * it counted.
 */
export const pipelineDecideUpdate = defineUpdate<{ step: string; decidedBy: string; approved: boolean }, [PipelineDecision]>('decideStep');

export interface PipelineDecision {
  step: string;
  actor: string;
  approve: boolean;
  reason?: string;
}

/** A sensor's counters while it runs (`sensorStatus` query): polls, events emitted, last poll, last error. */
export const sensorStatusQuery = defineQuery<SensorStatus>('sensorStatus');

/** An operator's decision on a run whose worker was lost (`stackwire execution resolve`). */
export interface LostDecision {
  decision: 'retry' | 'succeeded' | 'failed';
  actor: string;
  reason?: string;
  /** The run decided on, when the workflow holds several (a deploy leg's action); checked against the one waiting. */
  executionId?: string;
}
/** Refused unless the run is lost and waiting for a decision; answers who decided what. */
export const resolveLostUpdate = defineUpdate<{ decision: LostDecision['decision']; decidedBy: string }, [LostDecision]>('resolveLost');
