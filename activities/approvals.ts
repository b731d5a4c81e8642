import { ApplicationFailure } from '@temporalio/activity';
import type { GatePolicy, Vote } from '../approvals/policy';
import type { Trigger } from '../contracts/payloads';
import { audit, findModel } from '../db/models';
import { inTransaction } from '../db/pool';
import { DirectoryError } from '../people/directory';
import { gatePolicy } from '../people/gate-policy';
import type { ActivityDeps } from './deps';

/**
 * Approval activities (control pool): what the workflow's gate needs from the
 * outside world to judge a vote itself — who may decide, resolved from the
 * directory when the candidate arrives, and the approvals service's public
 * keys — and the record of every vote that counted.
 */
export function createApprovalActivities({ db, approvalKeys }: ActivityDeps) {
  return {
    async openGate(input: { model: string; version: number; workflowId: string; trigger: Trigger }): Promise<{ policy: GatePolicy; publicKeys: Record<string, string> }> {
      const keys = approvalKeys();
      if (Object.keys(keys).length === 0) {
        throw ApplicationFailure.retryable('no approvals public key is configured on the control workers (FACTORY_APPROVALS_PUBLIC_KEY or the .pub file beside the signing key): no decision could be verified', 'NoApprovalKey');
      }
      const model = await findModel(db, input.model);
      const policy = await gatePolicy(db, model, input.version, input.trigger).catch((err) => {
        // The spec names someone the directory does not know: no retry can fix that, and nobody could approve.
        if (err instanceof DirectoryError) throw ApplicationFailure.nonRetryable(`${input.model}'s approval.approvers: ${err.message}`, 'UnknownApprover');
        throw err;
      });
      const able = policy.eligible.filter((p) => !policy.excluded[p]);
      if (able.length < policy.required) {
        const reason = `${input.model} v${input.version} needs ${policy.required} approvals but only ${able.length} of the approvers may give one (${able.join(', ') || 'none'}; excluded: ${Object.entries(policy.excluded).map(([p, why]) => `${p}: ${why}`).join('; ') || 'none'})`;
        await audit(db, { actor: 'factory', action: 'approval.request', model: input.model, version: input.version, outcome: 'error', details: { workflowId: input.workflowId, reason } });
        throw ApplicationFailure.nonRetryable(reason, 'ApprovalImpossible');
      }
      await audit(db, { actor: 'factory', action: 'approval.request', model: input.model, version: input.version, outcome: 'ok', details: { workflowId: input.workflowId, eligible: policy.eligible, required: policy.required, excluded: policy.excluded } });
      return { policy, publicKeys: keys };
    },

    /** One counted vote with its assertion id, in the registry and the audit trail; a retry finds it recorded. */
    async recordVote(input: { model: string; version: number; workflowId: string; vote: Vote }): Promise<void> {
      const { vote } = input;
      await inTransaction(db, async (tx) => {
        const inserted = await tx.query(
          `INSERT INTO approval_votes (model_version_id, person_id, decision, channel, assertion_id, comment, decided_at)
           SELECT v.id, $3, $4, $5, $6, $7, $8 FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2
           ON CONFLICT DO NOTHING`,
          [input.model, input.version, vote.identity, vote.decision, vote.channel, vote.assertionId, vote.comment ?? null, vote.at],
        );
        if (inserted.rowCount === 0) return;
        await audit(tx, {
          actor: vote.identity,
          action: 'approval.vote',
          model: input.model,
          version: input.version,
          channel: vote.channel,
          outcome: 'ok',
          details: { decision: vote.decision, assertionId: vote.assertionId, comment: vote.comment, workflowId: input.workflowId },
        });
      });
    },
  };
}

export type ApprovalActivities = ReturnType<typeof createApprovalActivities>;
