/** The activities a regional worker hosts, built from their dependencies. */
import { createDockerActivities } from './platform-docker.js';
import { createKvmActivities } from './platform-kvm.js';
import { createVsphereActivities } from './platform-vsphere.js';
import { createAuditActivities } from './audit.js';
import { createDeployActivities } from './deploy.js';
import { createPuppetActivities } from './puppet.js';
import { createHealthActivities } from './health.js';
import { createIngestPack, createRecordIngestFailure } from './ingest-pack.js';
import { createPipelinePushActivities } from './pipeline-push.js';
import { createPipelineSourceActivities } from './pipeline-source.js';
import { createReleasePlanActivities } from './release-plan.js';
import { createRecordExecutionOutcome, createRecordLostExecution, createRunAction, type ActivityDeps } from './run-action.js';
import { createRunSensorScript } from './sensor-script.js';
import { createSensorActivities } from './sensors.js';
import { createTriggerActivities } from './triggers.js';

export type { ActivityDeps } from './run-action.js';

export function createActivities(deps: ActivityDeps) {
  return {
    runAction: createRunAction(deps),
    recordExecutionOutcome: createRecordExecutionOutcome(deps),
    recordLostExecution: createRecordLostExecution(deps),
    ingestPack: createIngestPack(deps),
    recordIngestFailed: createRecordIngestFailure(deps),
    ...createDeployActivities(deps),
    ...createPuppetActivities(deps),
    ...createHealthActivities(deps),
    ...createAuditActivities(deps),
    ...createPipelineSourceActivities(deps),
    ...createPipelinePushActivities(deps),
    ...createReleasePlanActivities(deps),
    ...createTriggerActivities(deps),
    ...createSensorActivities(deps),
    runSensorScript: createRunSensorScript(deps),
    ...createDockerActivities(deps),
    ...createKvmActivities(deps),
    ...createVsphereActivities(deps),
  };
}
