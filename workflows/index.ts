export { factoryLoop } from './factory-loop';
export { ingestBatch } from './ingest';
export { trainingPipeline } from './training-pipeline';
export { rolloutWorkflow } from './rollout';
export { driftMonitor, scheduledTraining } from './triggers';
export { edgeRolloutWorkflow } from './edge-rollout';
