import { condition, continueAsNew, getExternalWorkflowHandle, log, setHandler, setWorkflowOptions, startChild, upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import type { Trigger } from '../contracts/payloads';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { loopStateQuery, requestTrainingSignal, rolloutReadySignal, rolloutTurnSignal, supersedeSignal, type LoopState } from '../contracts/messages';
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
 * follow-up, never doubled. A pipeline's rollout does not hold up the next
 * pipeline: once approved it moves aside (`rollingOut`) and the next one
 * trains; at most one rollout of the model runs at a time, so an approved
 * candidate waits for the previous rollout to end, and says so.
 */
export async function factoryLoop(input: FactoryLoopInput): Promise<void> {
  const perRun = input.pipelinesPerRun ?? PIPELINES_PER_RUN;
  const state: LoopState = { model: input.model, pending: input.pending, coalesced: input.coalesced ?? 0, completed: input.completed ?? 0 };
  let thisRun = 0;
  /** Set when a pipeline ends with this run's share done: no new pipeline starts, the run continues as new once every child has ended. */
  let stopping = false;
  setHandler(loopStateQuery, () => state);
  setHandler(requestTrainingSignal, (trigger) => {
    if (state.pending || state.running) state.coalesced++;
    state.pending ??= trigger;
    // A candidate still waiting for a person may be superseded by the newer request (its spec decides).
    if (state.running) void getExternalWorkflowHandle(state.running).signal(supersedeSignal, trigger).catch(() => undefined);
  });
  setHandler(rolloutReadySignal, ({ pipeline }) => {
    if (pipeline === state.running) state.awaitingTurn = true;
  });
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model }]);

  const turnDue = () => state.awaitingTurn === true && state.rollingOut === undefined;
  const grantTurn = async () => {
    const pipeline = state.running!;
    Object.assign(state, { rollingOut: pipeline, running: undefined, awaitingTurn: undefined });
    // A pipeline cancelled meanwhile has ended: its end clears `rollingOut`.
    await getExternalWorkflowHandle(pipeline).signal(rolloutTurnSignal).catch(() => undefined);
  };
  const start = async (trigger: Trigger) => {
    const pipeline = `${input.model}-pipeline-${uuid4().slice(0, 8)}`;
    state.running = pipeline;
    const ended = () => {
      if (state.running === pipeline) Object.assign(state, { running: undefined, awaitingTurn: undefined });
      if (state.rollingOut === pipeline) state.rollingOut = undefined;
      state.completed++;
      thisRun++;
      if (thisRun >= perRun || workflowInfo().continueAsNewSuggested) stopping = true;
    };
    // A failed pipeline must not stop the loop: it is visible on its own in the Web UI.
    const failed = (err: unknown) => log.error('pipeline failed', { pipeline, error: String(err) });
    const child = await startChild(trainingPipeline, {
      workflowId: pipeline,
      args: [{ model: input.model, trigger }],
      staticSummary: `${input.model}: ${trigger.reason} training by ${trigger.requestedBy}`,
      staticDetails: trigger.detail,
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model },
        { key: SEARCH_ATTRIBUTES.FactoryTrigger, value: trigger.reason },
      ],
    }).catch((err: unknown) => void failed(err));
    if (!child) return ended();
    void child.result().then((outcome) => log.info('pipeline finished', { pipeline, outcome }), failed).then(ended);
  };

  for (;;) {
    await condition(() => turnDue() || (state.running === undefined && (state.pending !== undefined || stopping || thisRun >= perRun || workflowInfo().continueAsNewSuggested)));
    if (turnDue()) await grantTurn();
    else if (stopping || !state.pending) break;
    else {
      const trigger = state.pending;
      state.pending = undefined;
      await start(trigger);
    }
  }
  // Children end with the run that started them: a rollout still running finishes first (and one approved meanwhile gets its turn).
  while (state.running !== undefined || state.rollingOut !== undefined) {
    await condition(() => turnDue() || (state.running === undefined && state.rollingOut === undefined));
    if (turnDue()) await grantTurn();
  }
  await continueAsNew<typeof factoryLoop>({ ...input, pending: state.pending, coalesced: state.coalesced, completed: state.completed });
}

// The loop runs for months: it moves to each build made current (workers/deployment.ts) at its next task, so a change
// to its commands goes under patched(); pipelines and rollouts stay on the build they started on (the pools' default).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, factoryLoop);
