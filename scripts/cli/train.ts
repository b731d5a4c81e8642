import type { PipelineOutcome, Trigger } from '../../contracts/payloads';
import { DURATION, durationMs } from '../../specs/duration';
import { signalTraining } from '../../triggers/request';
import { loopStateQuery, loopWorkflowId, pipelineStatusQuery, type LoopState, type PipelineStatus, type Stage } from '../../contracts/messages';
import { CliError, requireModel, type CliContext } from './context';

/** Asks the model's factory loop for a pipeline, starting the loop if it is not running. */
export async function requestTraining(ctx: CliContext, model: string, trigger: Trigger): Promise<LoopState & { queued: boolean }> {
  await requireModel(ctx, model, { action: 'pipeline.request' });
  return signalTraining(ctx.client, model, trigger);
}

/** "8h" from now, or an ISO time: when a requested training must be done by. */
export function parseDeadline(text: string, now = Date.now()): string {
  if (DURATION.test(text)) return new Date(now + durationMs(text)).toISOString();
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new CliError(`--deadline "${text}" is neither a duration ("8h") nor a date-time ("2026-12-01T06:00:00Z")`);
  if (at <= now) throw new CliError(`--deadline ${text} is in the past`);
  return new Date(at).toISOString();
}

const ending = (o: PipelineOutcome) => `ended ${o.status} v${o.version}${o.status === 'failed-policy' ? `: ${o.verdict.failures.join('; ')}` : o.status === 'unchanged' ? `: ${o.reason}` : ''}`;

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
    // A pipeline whose rollout runs has moved aside for the next one: it is still the one watched.
    const current = watched !== undefined && state?.rollingOut === watched ? watched : state?.running;
    if (watched && state && current !== watched) {
      // The pipeline ended without reaching the stage: say how, rather than wait out the timeout.
      const failure = await ctx.client.workflow.getHandle(watched).result().then(ending, (err) => `failed: ${err.cause?.cause?.message ?? err.cause?.message ?? err.message}`);
      throw new CliError(`pipeline ${watched} ${failure}`);
    }
    if (current) {
      const status = await ctx.client.workflow.getHandle(current).query(pipelineStatusQuery).catch(() => undefined);
      if (status) {
        if (status.stage !== last) onProgress(status);
        last = status.stage;
        if (stages.includes(status.stage)) return { workflowId: current, status };
        if (status.outcome && watched === current) throw new CliError(`pipeline ${current} ${ending(status.outcome)}`);
        // One already ending when first seen is the one before (the loop has not yet moved on): the next is the one to watch.
        watched = status.outcome ? undefined : current;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new CliError(`no pipeline of ${model} reached ${stages.join(' or ')} within ${timeoutMs / 1000}s; see the Web UI`);
}
