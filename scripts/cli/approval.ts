import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { Decision, PipelineOutcome } from '../../activities/types';
import { audit } from '../../db/models';
import { approveUpdate, rejectUpdate } from '../../workflows/definitions';
import { CliError, notAVersion, parseVersion, requireModel, type CliContext } from './context';

/**
 * approve/reject from the CLI: the pipeline's update validator is the authority
 * (allowlist, version, not yet decided); the CLI checks what it can see first so
 * an unknown model or version gets a precise message. Every refusal is audited.
 */
export async function decide(
  ctx: CliContext,
  verdict: 'approve' | 'reject',
  model: string,
  versionText: string,
  approver: string,
  comment?: string,
  /** How long to wait for the pipeline's end (its rollout included) before returning without an outcome. */
  waitMs = 60_000,
): Promise<{ decision: Decision & { version: number }; pipelineId: string; outcome?: PipelineOutcome }> {
  const action = verdict === 'approve' ? 'version.approve' : 'version.reject';
  const parsed = parseVersion(versionText);
  const deny = async (reason: string): Promise<never> => {
    await audit(ctx.db, { actor: approver, action, model, version: parsed, channel: 'cli', outcome: 'denied', details: { reason, comment } });
    throw new CliError(reason);
  };
  if (parsed === undefined) return deny(notAVersion(versionText));
  const version = parsed;
  await requireModel(ctx, model, { action, actor: approver, version, details: { comment } });
  const row = await ctx.db.query<{ status: string; workflow_id: string }>(
    'SELECT v.status, v.workflow_id FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2',
    [model, version],
  );
  if (row.rowCount === 0) {
    const all = await ctx.db.query<{ version: number; status: string }>(
      'SELECT v.version, v.status FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 ORDER BY v.version',
      [model],
    );
    const known = all.rows.map((r) => `v${r.version} (${r.status})`).join(', ') || 'none yet';
    return deny(`${model} has no version ${version}; versions: ${known}`);
  }
  const { status, workflow_id: workflowId } = row.rows[0];
  if (status !== 'awaiting_approval') return deny(`${model} v${version} is not awaiting approval: it is ${status.replace('_', ' ')}`);
  const handle = ctx.client.workflow.getHandle(workflowId);
  let decision: Decision;
  try {
    decision = await handle.executeUpdate(verdict === 'approve' ? approveUpdate : rejectUpdate, {
      args: [{ version, approver, comment, channel: 'cli' }],
    });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return deny(err.cause?.message ?? err.message);
    throw err;
  }
  if (waitMs === 0) return { decision: { ...decision, version }, pipelineId: workflowId };
  const outcome = await Promise.race([
    handle.result() as Promise<PipelineOutcome>,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), waitMs).unref()),
  ]);
  return { decision: { ...decision, version }, pipelineId: workflowId, outcome };
}

export function describeDecision(model: string, r: { decision: Decision & { version: number }; outcome?: PipelineOutcome }): string {
  const d = r.decision;
  const head = `${model}: ${d.decision} by ${d.approver} via ${d.channel} at ${d.decidedAt}${d.comment ? ` ("${d.comment}")` : ''}`;
  const o = r.outcome;
  if (!o) return d.decision === 'approved' ? `${head}\n  rolling out; see: factory rollout status ${model} ${d.version}` : head;
  if (o.status === 'promoted') return `${head}\n  v${o.version} is now the champion${o.previousChampion ? ` (previous champion v${o.previousChampion} kept for rollback)` : ''}`;
  if (o.status === 'rolled-back') return `${head}\n  v${o.version} was rolled back${o.restoredChampion ? `; v${o.restoredChampion} serves` : ''}: ${o.reason}`;
  return `${head}\n  v${o.version} ${o.status}`;
}
