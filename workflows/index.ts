/** Every workflow type Stackwire registers. Bundled once at build time (dist/workflow-bundle.js). */
export { actionExecution } from './action-execution.js';
export { pipelineRun } from './pipeline-run.js';
export { multiRegionExecution } from './multi-region-execution.js';
export { packIngest } from './pack-ingest.js';
