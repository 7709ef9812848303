/** A deploy's plan in one region: `puppet apply --noop` with the new version's Hiera data. Changes nothing. */
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { PuppetSummary } from '../common/deploy.js';

type Activities = ReturnType<typeof createActivities>;

export interface DeployPlanInput {
  component: string;
  role: string;
  hiera: Record<string, unknown>;
  version: string;
  environment: string;
  region: string;
}

export async function deployPlan(input: DeployPlanInput): Promise<PuppetSummary> {
  const { puppetApply } = proxyActivities<Activities>({
    startToCloseTimeout: '10m',
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 2, nonRetryableErrorTypes: ['PuppetFailed', 'PuppetMissing', 'BadRole'] },
    summary: `puppet apply --noop ${input.role}`,
  });
  setCurrentDetails(`${input.region}: puppet noop for ${input.component} ${input.version}`);
  return puppetApply({ component: input.component, role: input.role, hiera: input.hiera, version: input.version, environment: input.environment, noop: true });
}
