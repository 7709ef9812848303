/** Audit rows for decisions that no request made (the API audits requests): a gate that timed out. */
import { appendAudit } from '../db/audit.js';
import type { Pool } from '../db/pool.js';

export function createAuditActivities(deps: { pool: Pool }) {
  return {
    /**
     * An approval gate that nobody decided before its deadline: the deploy is refused by the clock, and
     * the audit trail says so (requests are audited by the API; this decision is no request). Once per run.
     */
    async auditGateTimeout(input: {
      deploymentId: string;
      workflowId: string;
      runId: string;
      component: string;
      version: string;
      environment: string;
      before: string[];
      timeoutSeconds: number;
      requestedBy: string;
    }): Promise<void> {
      await appendAudit(
        deps.pool,
        {
          actor: null,
          role: null,
          keyId: null,
          action: 'deployments.gate-timeout',
          target: input.deploymentId,
          parameters: {
            component: input.component,
            version: input.version,
            environment: input.environment,
            before: input.before,
            timeoutSeconds: input.timeoutSeconds,
            requestedBy: input.requestedBy,
          },
          result: 'rejected',
          status: 0,
          requestId: `${input.workflowId}/${input.runId}`,
          source: `workflow ${input.workflowId}`,
        },
        { once: true },
      );
    },
  };
}
