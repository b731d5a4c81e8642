import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { drift, triggers } from './activities';

/** Started by the model's retrain Schedule: one request to the loop, which coalesces it with a running pipeline. */
export async function scheduledTraining(input: { model: string }): Promise<{ coalesced: boolean }> {
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model },
    { key: SEARCH_ATTRIBUTES.FactoryTrigger, value: 'schedule' },
  ]);
  const { workflowId, startTime } = workflowInfo();
  return triggers.requestTraining({ model: input.model, trigger: { reason: 'schedule', requestedBy: 'schedule', detail: `${workflowId} at ${startTime.toISOString()}` } });
}

/**
 * Started by the model's drift Schedule: compares recent predictions with the
 * champion's training snapshot (and live AUC where labels have arrived) and asks
 * for a retrain, with the drift report attached, when the model's limits are crossed.
 */
export async function driftMonitor(input: { model: string }) {
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model }]);
  const check = await drift.measureDrift({ model: input.model, checkId: workflowInfo().workflowId });
  setCurrentDetails(check.summary);
  if (!check.retrain) return { ...check, requested: false };
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryTrigger, value: 'drift' }]);
  const { coalesced } = await triggers.requestTraining({ model: input.model, trigger: { reason: 'drift', requestedBy: 'drift-monitor', detail: check.summary } });
  return { ...check, requested: true, coalesced };
}
