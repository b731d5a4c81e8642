import { condition, continueAsNew, executeChild, getExternalWorkflowHandle, log, setHandler, upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import type { Trigger } from '../contracts/payloads';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { loopStateQuery, requestTrainingSignal, supersedeSignal, type LoopState } from '../contracts/messages';
import { trainingPipeline } from './training-pipeline';

/** Pipelines per run before continuing as new, well inside Temporal's history limits. */
const PIPELINES_PER_RUN = 25;

export interface FactoryLoopInput {
  model: string;
  pending?: Trigger;
  coalesced?: number;
  completed?: number;
  /** Overrides PIPELINES_PER_RUN (tests use 1 to see the hand-over). */
  pipelinesPerRun?: number;
}

/**
 * One per model, running for months: starts a pipeline per training request,
 * one at a time. Requests that arrive while one runs are coalesced into a single
 * follow-up, never doubled.
 */
export async function factoryLoop(input: FactoryLoopInput): Promise<void> {
  const perRun = input.pipelinesPerRun ?? PIPELINES_PER_RUN;
  const state: LoopState = { model: input.model, pending: input.pending, coalesced: input.coalesced ?? 0, completed: input.completed ?? 0 };
  let thisRun = 0;
  setHandler(loopStateQuery, () => state);
  setHandler(requestTrainingSignal, (trigger) => {
    if (state.pending || state.running) state.coalesced++;
    state.pending ??= trigger;
    // A candidate still waiting for a person may be superseded by the newer request (its spec decides).
    if (state.running) void getExternalWorkflowHandle(state.running).signal(supersedeSignal, trigger).catch(() => undefined);
  });
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model }]);

  for (;;) {
    await condition(() => state.pending !== undefined || thisRun >= perRun || workflowInfo().continueAsNewSuggested);
    if (!state.pending) break;
    const trigger = state.pending;
    state.pending = undefined;
    state.running = `${input.model}-pipeline-${uuid4().slice(0, 8)}`;
    try {
      const outcome = await executeChild(trainingPipeline, {
        workflowId: state.running,
        args: [{ model: input.model, trigger }],
        staticSummary: `${input.model}: ${trigger.reason} training by ${trigger.requestedBy}`,
        staticDetails: trigger.detail,
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model },
          { key: SEARCH_ATTRIBUTES.FactoryTrigger, value: trigger.reason },
        ],
      });
      log.info('pipeline finished', { pipeline: state.running, outcome });
    } catch (err) {
      // A failed pipeline must not stop the loop: it is visible on its own in the Web UI.
      log.error('pipeline failed', { pipeline: state.running, error: String(err) });
    }
    state.running = undefined;
    state.completed++;
    thisRun++;
    if (thisRun >= perRun || workflowInfo().continueAsNewSuggested) break;
  }
  await condition(() => state.running === undefined);
  await continueAsNew<typeof factoryLoop>({ ...input, pending: state.pending, coalesced: state.coalesced, completed: state.completed });
}
