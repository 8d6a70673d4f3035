// The Cloud Function entry points. Each file registers its function with the Functions Framework
// under its export name, which is the deployed entry_point (terraform/main.tf, local.functions).

export { startRun } from './startRun.js';
export { extractFeature } from './extractFeature.js';
export { checkpointLanded } from './checkpointLanded.js';
export { mergeRun } from './mergeRun.js';
export { pipelineApi } from './pipelineApi.js';
export { reconcile } from './reconcile.js';
