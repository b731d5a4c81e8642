import type { PipelineOutcome, Trigger } from '../../activities/types';
import { TASK_QUEUES } from '../../config/task-queues';
import { SEARCH_ATTRIBUTES } from '../../temporal/search-attributes';
import { factoryLoop } from '../../workflows';
import { loopStateQuery, loopWorkflowId, pipelineStatusQuery, requestTrainingSignal, type LoopState, type PipelineStatus, type Stage } from '../../workflows/definitions';
import { CliError, requireModel, type CliContext } from './context';

/** Asks the model's factory loop for a pipeline, starting the loop if it is not running. */
export async function requestTraining(ctx: CliContext, model: string, trigger: Trigger): Promise<LoopState> {
  await requireModel(ctx, model, { action: 'pipeline.request' });
  const handle = await ctx.client.workflow.signalWithStart(factoryLoop, {
    workflowId: loopWorkflowId(model),
    taskQueue: TASK_QUEUES.control,
    args: [{ model }],
    signal: requestTrainingSignal,
    signalArgs: [trigger],
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.FactoryModel, value: model }],
  });
  return handle.query(loopStateQuery);
}

/** Polls until the model's current pipeline reaches one of the stages, returning its id and status. */
export async function waitForStage(
  ctx: CliContext,
  model: string,
  stages: Stage[],
  timeoutMs: number,
  onProgress: (s: PipelineStatus) => void = () => undefined,
): Promise<{ workflowId: string; status: PipelineStatus }> {
  const loop = ctx.client.workflow.getHandle(loopWorkflowId(model));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let watched: string | undefined;
  while (Date.now() < deadline) {
    const state = await loop.query(loopStateQuery).catch(() => undefined);
    if (watched && state && state.running !== watched) {
      // The pipeline ended without reaching the stage: say how, rather than wait out the timeout.
      const failure = await ctx.client.workflow.getHandle(watched).result().then(
        (o: PipelineOutcome) => `ended ${o.status} v${o.version}${o.status === 'failed-policy' ? `: ${o.verdict.failures.join('; ')}` : ''}`,
        (err) => `failed: ${err.cause?.cause?.message ?? err.cause?.message ?? err.message}`,
      );
      throw new CliError(`pipeline ${watched} ${failure}`);
    }
    if (state?.running) {
      watched = state.running;
      const status = await ctx.client.workflow.getHandle(state.running).query(pipelineStatusQuery).catch(() => undefined);
      if (status) {
        if (status.stage !== last) onProgress(status);
        last = status.stage;
        if (stages.includes(status.stage)) return { workflowId: state.running, status };
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new CliError(`no pipeline of ${model} reached ${stages.join(' or ')} within ${timeoutMs / 1000}s; see the Web UI`);
}
