/** Every workflow type Stackwire registers. Bundled once at build time (dist/workflow-bundle.js). */
export { actionExecution } from './action-execution.js';
export { pipelineForEach, pipelineRun } from './pipeline-run.js';
export { readPipelineSource } from './pipeline-source.js';
export { githubPush } from './github-push.js';
export { multiRegionExecution } from './multi-region-execution.js';
export { packIngest } from './pack-ingest.js';
export { regionDeploy } from './region-deploy.js';
export { deployComponent } from './deploy-component.js';
export { releaseTrain } from './release-train.js';
export { deployPlan } from './deploy-plan.js';
export { releaseSelection } from './release-selection.js';
export { gitSensor, scriptSensor, sensuSensor } from './sensors.js';
