import type { GateAnswer } from '../../contracts/messages';
import type { PipelineOutcome } from '../../contracts/payloads';
import { callApprovals, verifiedCaller } from './approvals-client';
import { CliError, notAVersion, parseVersion, type CliContext } from './context';

export interface DecisionResult {
  model: string;
  version: number;
  answer: GateAnswer;
  pipelineId: string;
  outcome?: PipelineOutcome;
}

/**
 * approve/reject from the CLI: as the person the token proves (`as`, if given,
 * must be that person), through the approvals service, which checks the policy
 * and signs; the pipeline verifies and has the last word. Refusals are audited
 * where they are made, by the service or by the workflow.
 */
export async function decide(
  ctx: CliContext,
  verdict: 'approve' | 'reject',
  model: string,
  versionText: string,
  opts: { comment?: string; as?: string } = {},
  /** How long to wait for the pipeline's end (its rollout included) before returning without an outcome. */
  waitMs = 60_000,
): Promise<DecisionResult> {
  const version = parseVersion(versionText);
  if (version === undefined) throw new CliError(notAVersion(versionText));
  if (opts.as !== undefined) await verifiedCaller(ctx, opts.as);
  const answer = await callApprovals<GateAnswer>(ctx, 'POST', '/v1/decisions', { model, version, action: verdict, comment: opts.comment });
  const row = await ctx.db.query<{ workflow_id: string }>('SELECT v.workflow_id FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2', [model, version]);
  const pipelineId = row.rows[0].workflow_id;
  if (waitMs === 0 || !answer.decision) return { model, version, answer, pipelineId };
  const outcome = await Promise.race([
    ctx.client.workflow.getHandle(pipelineId).result() as Promise<PipelineOutcome>,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), waitMs).unref()),
  ]);
  return { model, version, answer, pipelineId, outcome };
}

export function describeDecision(r: DecisionResult): string {
  const d = r.answer.decision;
  const votes = r.answer.votes.map((v) => `${v.identity} (${v.decision} via ${v.channel})`).join(', ');
  if (!d) return `${r.model} v${r.version}: votes so far ${votes}; ${r.answer.missing} more approval${r.answer.missing === 1 ? '' : 's'} needed of ${r.answer.required}`;
  const head = `${r.model}: ${d.decision} by ${d.approver} via ${d.channel} at ${d.decidedAt}${d.comment ? ` ("${d.comment}")` : ''}${r.answer.required > 1 ? `; votes: ${votes}` : ''}`;
  const o = r.outcome;
  if (!o) return d.decision === 'approved' ? `${head}\n  rolling out; see: factory rollout status ${r.model} ${r.version}` : head;
  if (o.status === 'promoted') return `${head}\n  v${o.version} is now the champion${o.previousChampion ? ` (previous champion v${o.previousChampion} kept for rollback)` : ''}`;
  if (o.status === 'rolled-back') return `${head}\n  v${o.version} was rolled back${o.restoredChampion ? `; v${o.restoredChampion} serves` : ''}: ${o.reason}`;
  return `${head}\n  v${o.version} ${o.status}`;
}
