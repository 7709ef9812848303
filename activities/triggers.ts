/**
 * Emitting trigger instances (a sensor's events): written to Postgres as `pending` with a deterministic
 * id (`sensor.<name>.<key>`), the dispatcher notified; the API, which holds the rule index, matches and
 * dispatches them. An id that exists is skipped, so a retried activity or a replayed workflow emits
 * nothing twice.
 */
import { sensorSource, sensorTriggerId } from '../common/sensors.js';
import type { Pool } from '../db/pool.js';
import { insertPendingTriggers } from '../db/triggers.js';

export interface SensorEvent {
  /** Unique per event within the sensor: the trigger id is `sensor.<sensor>.<key>` and the delivery id is the key. */
  key: string;
  payload: unknown;
}

export interface EmitTriggersInput {
  sensor: string;
  /** `sensu.event`, `git.push`, `sensor.<name>`. */
  type: string;
  events: SensorEvent[];
}

export interface EmitTriggersResult {
  /** Instances recorded now. */
  emitted: number;
  /** Instances that were already there (a retry, a replay, an id a script printed again). */
  duplicates: number;
}

/** Records a sensor's events as pending trigger instances; shared by the activity and the script sensor's own process reader. */
export async function emitSensorEvents(pool: Pool, input: EmitTriggersInput): Promise<EmitTriggersResult> {
  if (!input.events.length) return { emitted: 0, duplicates: 0 };
  const fresh = await insertPendingTriggers(
    pool,
    input.events.map((e) => ({
      id: sensorTriggerId(input.sensor, e.key),
      type: input.type,
      source: sensorSource(input.sensor),
      deliveryId: e.key,
      payload: e.payload,
    })),
  );
  return { emitted: fresh.length, duplicates: input.events.length - fresh.length };
}

export function createTriggerActivities(deps: { pool: Pool }) {
  return {
    async emitTriggers(input: EmitTriggersInput): Promise<EmitTriggersResult> {
      return emitSensorEvents(deps.pool, input);
    },
  };
}
