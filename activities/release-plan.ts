/** What a pipeline's `release:` step needs from the source of truth: each component's first region and the dependencies among them. */
import { ApplicationFailure } from '@temporalio/activity';
import { closure } from '../common/graph.js';
import type { Pool } from '../db/pool.js';
import { dependencyEdges, getComponent } from '../db/sot.js';

export function createReleasePlanActivities(deps: { pool: Pool }) {
  return {
    async releasePlan(input: { environment: string; components: string[] }): Promise<{ firstRegion: Record<string, string>; edges: Record<string, string[]> }> {
      const firstRegion: Record<string, string> = {};
      for (const name of input.components) {
        const c = await getComponent(deps.pool, name);
        if (!c) throw ApplicationFailure.nonRetryable(`no component ${JSON.stringify(name)} in the source of truth`, 'UnknownComponent');
        const regions = c.placements[input.environment] ?? [];
        if (!regions.length) throw ApplicationFailure.nonRetryable(`${name} is not placed in ${input.environment}`, 'NotPlaced');
        firstRegion[name] = regions[0];
      }
      const all = await dependencyEdges(deps.pool);
      // Transitive, as the API's releases: web-ui → gateway → auth orders web-ui after auth without gateway.
      const edges = Object.fromEntries(input.components.map((c) => [c, closure(c, all).filter((d) => input.components.includes(d))]));
      return { firstRegion, edges };
    },
  };
}
