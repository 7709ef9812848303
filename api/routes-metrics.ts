/**
 * The metrics routes of the route table (api/routes.ts spreads them into ROUTES; kept apart so the table
 * stays under the size limit). The description is the figures' definition in the OpenAPI document; the
 * README's "Delivery metrics" section says the same.
 */
const str = (extra: Record<string, unknown> = {}) => ({ type: 'string', ...extra });
const SOT = '[a-z][a-z0-9-]{0,62}';

export const DELIVERY_METRICS_DESCRIPTION = `Delivery metrics of one environment over a window, computed by Postgres from the deployment records.

- **Window**: deploys that started at or after \`since\` and before \`until\`. Each is a date (\`2026-12-01\`, midnight UTC), an ISO 8601 time (no zone means UTC) or a duration back from now (\`30d\`, \`12h\`, \`45m\`). Defaults: the last 30 days. At most 366 days.
- **Deploy**: one deploy run (one \`stackwire deploy\`, pipeline deploy step or component of a release) to the environment — its region legs together; rollback legs are not deploys. It started when its first leg started and ended when its last leg ended. It **failed** when a leg failed or was rolled back, and **succeeded** when every leg succeeded. Deploys still running, and cancelled ones, are counted apart (\`totals.running\`, \`totals.cancelled\`) and in no figure.
- **Developer**: the author of the pushed commit (GitHub login, else name) when the deploy was started by a push (through its pipeline run), else the actor (the API key's owner, \`rule:<name>\` for a rule).
- **Deploys per day**: deploys ÷ the window's length in days; \`perDay\` counts them by the UTC day they started. **Deploys per developer per day** (the headline): deploys ÷ distinct developers ÷ days.
- **Lead time** (succeeded deploys): from the pushed commit's timestamp (\`leadTimeFrom: commit\`) — or, when no commit is known, from the version's creation, i.e. the first deployment record of that component version in any environment (\`leadTimeFrom: version\`) — to the deploy's end. Median and mean, in seconds; never below 0.
- **Change failure rate**: failed ÷ deploys (succeeded + failed); null with no deploys.
- **Time to restore** (failed deploys): from the failed deploy's end to the end of the next succeeded deploy of the same component in the environment (the first that started after it, even after \`until\`). Each failed deploy is measured on its own; \`notRestored\` counts those with no succeeded deploy since.
- **Groups** (\`by\`): the same figures per developer or per component (time to restore is the failed deploy's group's).

Add \`deploys=true\` for the deploys themselves (newest first, at most 1000) with what each figure took from them.`;

export const METRICS_ROUTES = {
  'GET /api/v1/metrics/delivery': {
    permission: 'deployments.read',
    summary:
      'Delivery metrics of an environment (default production) over a window (default 30d): deploys per day, per developer or component, lead time, change failure rate, time to restore.',
    description: DELIVERY_METRICS_DESCRIPTION,
    query: {
      type: 'object',
      properties: {
        since: str({ minLength: 1, maxLength: 64, description: 'Start of the window (default 30d): a date, an ISO 8601 time or a duration back from now.' }),
        until: str({ minLength: 1, maxLength: 64, description: 'End of the window, excluded (default now).' }),
        by: { enum: ['developer', 'component'], description: 'Group the figures per developer (default) or per component.' },
        environment: str({ pattern: `^${SOT}$`, description: 'The environment (default production).' }),
        component: str({ pattern: `^${SOT}(,${SOT}){0,99}$`, description: 'Only these components (comma-separated).' }),
        deploys: { enum: ['true', 'false'], description: 'Also list the deploys (newest first, at most 1000).' },
      },
      additionalProperties: false,
    },
  },
} as const;
