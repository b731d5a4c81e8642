import type { Client } from '@temporalio/client';
import type { Trigger } from '../contracts/payloads';
import { TASK_QUEUES } from '../config/task-queues';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import type { factoryLoop } from '../workflows';
import { loopStateQuery, loopWorkflowId, requestTrainingSignal, type LoopState } from '../contracts/messages';

/**
 * Every trigger (a person, a schedule, a row threshold, drift) asks the model's
 * loop the same way: signal-with-start, so the loop is started if it is not
 * running, and a request during a pipeline is coalesced there, never doubled.
 */
export async function signalTraining(client: Client, model: string, trigger: Trigger): Promise<LoopState & { queued: boolean }> {
  // Busy before the request arrives means it joins the follow-up rather than starting a pipeline.
  const before = await client.workflow.getHandle(loopWorkflowId(model)).query(loopStateQuery).catch(() => undefined);
  const handle = await client.workflow.signalWithStart<typeof factoryLoop, [Trigger]>('factoryLoop' satisfies (typeof factoryLoop)['name'], {
    workflowId: loopWorkflowId(model),
    taskQueue: TASK_QUEUES.control,
    args: [{ model }],
    signal: requestTrainingSignal,
    signalArgs: [trigger],
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.FactoryModel, value: model }],
  });
  const after = await handle.query(loopStateQuery);
  return { ...after, queued: before?.running !== undefined };
}
