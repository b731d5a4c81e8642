import { rolloutStatusQuery, rolloutWorkflowId, stepText, type RolloutStatus } from '../../contracts/messages';
import type { PipelineOutcome } from '../../contracts/payloads';
import { callApprovals, verifiedCaller } from './approvals-client';
import { CliError, notAVersion, parseVersion, requireModel, type CliContext } from './context';

function versionOf(text: string): number {
  const v = parseVersion(text);
  if (v === undefined) throw new CliError(notAVersion(text));
  return v;
}

/** pause / resume / abort as the person the token proves, through the approvals service; the rollout verifies the signed action. */
export async function steerRollout(ctx: CliContext, action: 'pause' | 'resume' | 'abort', model: string, versionText: string, opts: { reason?: string; as?: string } = {}): Promise<RolloutStatus> {
  const version = versionOf(versionText);
  if (opts.as !== undefined) await verifiedCaller(ctx, opts.as);
  return callApprovals<RolloutStatus>(ctx, 'POST', '/v1/rollouts', { model, version, action, reason: opts.reason });
}

export async function rolloutStatus(ctx: CliContext, model: string, versionText: string): Promise<RolloutStatus> {
  const version = versionOf(versionText);
  await requireModel(ctx, model, { action: 'rollout.status', version });
  return ctx.client.workflow.getHandle(rolloutWorkflowId(model, version)).query(rolloutStatusQuery);
}

export function describeRolloutStatus(s: RolloutStatus): string {
  const head = `${s.model} v${s.version}: ${s.phase}${s.paused ? ' (paused)' : ''}${s.phase === 'canary' ? ` at ${s.canaryPercent}%` : ''}`;
  const time = s.phaseMs > 0 ? `, ${Math.round(s.elapsedMs / 1000)}s of ${Math.round(s.phaseMs / 1000)}s` : '';
  const guard = s.stats ? `; v${s.stats.candidate.version} ${s.stats.candidate.requests} req p99 ${s.stats.candidate.p99Ms.toFixed(2)} ms vs v${s.stats.baseline.version} ${s.stats.baseline.requests} req p99 ${s.stats.baseline.p99Ms.toFixed(2)} ms, score PSI ${s.stats.scorePsi?.toFixed(3) ?? '–'}` : '';
  const waiting = s.verdict && !s.verdict.enough ? ' (waiting for traffic)' : '';
  return `${head}${time}${guard}${waiting}${s.note ? `\n  ${s.note}` : ''}${s.reason ? `\n  rolled back: ${s.reason}` : ''}`;
}

/** Prints each phase a rollout enters, and each pause, until the pipeline that started it ends, and returns how it ended. */
export async function followRollout(ctx: CliContext, model: string, version: number, pipelineId: string, print: (s: string) => void): Promise<PipelineOutcome> {
  const handle = ctx.client.workflow.getHandle(rolloutWorkflowId(model, version));
  let last = '';
  let shown = 0;
  const say = (line: string, note?: string) => line !== last && print(`  rollout: ${(last = line)}${note ? ` (${note})` : ''}`);
  // The rollout starts a moment after the decision; the pipeline's result covers it and anything before it.
  const done = ctx.client.workflow.getHandle(pipelineId).result() as Promise<PipelineOutcome>;
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  // One more look once it has ended: the last phases are entered just before.
  for (let over = false; !over; ) {
    over = finished;
    const s = await handle.query(rolloutStatusQuery).catch(() => undefined);
    if (s) {
      // Phases entered between two looks come from the timeline; then where it stands now (said once).
      for (const t of s.timeline?.slice(shown) ?? []) say(stepText(t), t.phase === s.phase ? s.note : undefined);
      shown = s.timeline?.length ?? 0;
      say(`${stepText({ phase: s.phase, canaryPercent: s.phase === 'canary' ? s.canaryPercent : undefined })}${s.paused ? ' (paused)' : ''}`, s.note);
    }
    if (!over) await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  return done;
}
