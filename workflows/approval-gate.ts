import { ApplicationFailure, allHandlersFinished, condition, log, patched, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { verifyAssertion } from '../approvals/assertion';
import { refusal, tally, type GatePolicy, type Vote } from '../approvals/policy';
import type { Refusal } from '../contracts/messages';
import type { Decision, Trigger } from '../contracts/payloads';
import { approveSignal, approveUpdate, rejectSignal, rejectUpdate, supersedeSignal, type ApprovalRequest, type GateAnswer } from '../contracts/messages';
import { durationMs } from '../specs/duration';
import type { ModelSpec } from '../specs/model-spec';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { approvals, chat, registry } from './activities';
import { awaitUnsignedDecision } from './approval-gate-unsigned';

/** Refused attempts recorded per gate at most (each is an audit row and a few history events). */
const MAX_RECORDED_REFUSALS = 200;

/** Refused attempts the Web UI shows. */
const SHOWN_REFUSALS = 3;

/** Pipelines that reached the gate before this marker decide by the unsigned gate they started with. */
const SIGNED_DECISIONS = 'signed-decisions';

export interface GateView {
  approvers: string[];
  required: number;
  votes: Vote[];
  deadline: string;
  slackCard?: string;
  /** The latest refused attempts, so whoever sent one from the Web UI sees why it did not count. */
  refused: Refusal[];
}

type Considered = { vote: Vote } | { refused: string; identity?: string; claimed?: string; assertionId?: string };

/**
 * Waits for people to decide on one candidate. A vote counts only with an
 * assertion signed by the approvals service for this pipeline, version and
 * action, unexpired and never used before, from someone the model's policy lets
 * decide (as the directory stood when the candidate got here): N distinct
 * approvals approve, one rejection rejects. Anything else — a Web UI signal, a
 * hand-written update, a forged, expired or replayed assertion — is refused
 * with its reason and written to the audit trail by this workflow. A reminder
 * goes out at half the timeout, then escalation (if the spec asks), then expiry.
 */
export async function awaitDecision(
  input: { model: string; version: number; spec: ModelSpec; workflowId: string; trigger: Trigger },
  show: (view: GateView) => void,
): Promise<Decision> {
  const { model, version, spec, workflowId } = input;
  if (!patched(SIGNED_DECISIONS)) {
    return awaitUnsignedDecision(model, version, spec, workflowId, (deadline) => show({ approvers: spec.approval.approvers, required: 1, votes: [], deadline, refused: [] }));
  }
  // Handlers first: a decision arriving while the gate opens waits for it instead of meeting "no handler".
  let gate: { policy: GatePolicy; publicKeys: Record<string, string> } | undefined;
  const opened = () => condition(() => gate !== undefined);
  const votes: Vote[] = [];
  let refusals = 0;
  const usedNonces = new Set<string>();
  let decision: Decision | undefined;
  let slackCard: string | undefined;
  const timeoutMs = durationMs(spec.approval.timeout);
  let deadline = Date.now() + timeoutMs;
  const refused: Refusal[] = [];
  const view = () => show({ approvers: gate!.policy.eligible, required: gate!.policy.required, votes: [...votes], deadline: new Date(deadline).toISOString(), slackCard, refused: [...refused] });
  const stillToVote = () => gate!.policy.eligible.filter((p) => !votes.some((v) => v.identity === p));
  const answer = (): GateAnswer => ({ decision, votes: [...votes], required: gate!.policy.required, missing: tally(gate!.policy, votes).missing });
  /** Chat is best effort: a Slack outage never stops the gate, and the decision can still come by CLI. */
  const bestEffort = (what: string, p: Promise<unknown>) => void p.catch((err) => log.warn(`${what} failed`, { error: String(err) }));
  const updateCard = () => bestEffort('updating the Slack card', chat.updateApprovalCard({ model, version, workflowId, policy: gate!.policy, votes: [...votes], deadline: new Date(deadline).toISOString(), decision }));

  /** Judges one request synchronously, so two arriving together are counted one after the other. */
  const consider = (action: 'approve' | 'reject', req: ApprovalRequest): Considered => {
    const { policy, publicKeys } = gate!;
    const claimed = req?.approver === undefined ? undefined : String(req.approver);
    if (decision) return { refused: `${model} v${version} was already ${decision.decision}${decision.approver === 'factory' ? ` (${decision.channel})` : ` by ${decision.approver}`}`, claimed };
    const checked = verifyAssertion(req?.assertion, publicKeys, { workflowId, version, actions: [action] }, Date.now(), usedNonces);
    if (!checked.ok) return { refused: checked.reason, claimed };
    const { identity, nonce, channel, comment } = checked.claims;
    usedNonces.add(nonce);
    const why = refusal(policy, identity, action, votes);
    if (why) return { refused: why, identity, assertionId: nonce };
    const vote: Vote = { identity, decision: action === 'approve' ? 'approved' : 'rejected', channel, assertionId: nonce, comment, at: new Date().toISOString() };
    votes.push(vote);
    const { outcome } = tally(policy, votes);
    if (outcome) decision = { decision: outcome, approver: identity, channel, comment, decidedAt: vote.at, votes: [...votes] };
    return { vote };
  };
  /** What a request leaves behind: the vote with its assertion, or the refusal with its reason, in the audit trail. */
  const record = async (action: 'approve' | 'reject', c: Considered, via: 'update' | 'signal') => {
    if ('refused' in c) {
      refusals++;
      refused.unshift({ at: new Date().toISOString(), by: c.identity ?? (c.claimed === undefined ? 'unverified' : `unverified (claimed ${c.claimed})`), via, reason: c.refused });
      refused.splice(SHOWN_REFUSALS);
      view();
    }
    if ('vote' in c) {
      await approvals.recordVote({ model, version, workflowId, vote: c.vote });
      if (!decision) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryAwaitingApproval, value: stillToVote() }]);
      view();
      updateCard();
      return;
    }
    await registry.recordAudit({
      actor: c.identity ?? 'unverified',
      action: `version.${action}`,
      model,
      version,
      channel: c.identity ? undefined : via === 'signal' ? 'web-ui' : 'api',
      outcome: 'denied',
      details: { reason: c.refused, workflowId, via, ...(c.claimed !== undefined && { claimedBy: c.claimed }), ...(c.assertionId && { assertionId: c.assertionId }) },
    });
  };
  for (const [action, update, signal] of [['approve', approveUpdate, approveSignal], ['reject', rejectUpdate, rejectSignal]] as const) {
    setHandler(
      update,
      async (req) => {
        await opened();
        const c = consider(action, req);
        await record(action, c, 'update');
        if ('refused' in c) throw ApplicationFailure.nonRetryable(c.refused, 'DecisionRefused');
        return answer();
      },
      // Every refusal is audited and kept in the history; past a bound a flood is refused unrecorded, so it cannot fill the history.
      { validator: (_req: ApprovalRequest) => { if (refusals >= MAX_RECORDED_REFUSALS) throw new Error(`${MAX_RECORDED_REFUSALS} refused decisions are recorded for ${model} v${version} already; no more are taken`); } },
    );
    setHandler(signal, async (req) => {
      await opened();
      await record(action, consider(action, req), 'signal').catch((err) => log.warn('recording a signalled decision failed', { error: String(err) }));
    });
  }
  setHandler(supersedeSignal, (t) => {
    if (decision || !spec.approval.supersede) return;
    decision = { decision: 'rejected', approver: 'factory', channel: 'supersede', comment: `superseded: a newer ${t.reason} trigger asked for a retrain${t.detail ? ` (${t.detail})` : ''}`, decidedAt: new Date().toISOString(), votes: [...votes] };
  });

  gate = await approvals.openGate({ model, version, workflowId, trigger: input.trigger });
  const { policy } = gate;
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryAwaitingApproval, value: stillToVote() }]);
  view();
  bestEffort(
    'posting the Slack card',
    chat.postApprovalCard({ model, version, workflowId, policy, deadline: new Date(deadline).toISOString() }).then((card) => {
      slackCard = card?.permalink;
      view();
    }),
  );

  let remindAt: number | undefined = Date.now() + timeoutMs / 2;
  let escalated = false;
  const tell = (kind: 'reminder' | 'escalation' | 'expiry') =>
    chat.notifyGate({ model, version, workflowId, kind, waitingFor: stillToVote(), missing: tally(policy, votes).missing, deadline: new Date(deadline).toISOString() }).catch((err) => log.warn(`${kind} notification failed`, { error: String(err) }));
  while (!decision) {
    await condition(() => decision !== undefined, Math.max(1, Math.min(remindAt ?? Infinity, deadline) - Date.now()));
    if (decision) break;
    if (remindAt !== undefined && Date.now() >= remindAt) {
      remindAt = undefined;
      await tell('reminder');
    } else if (Date.now() >= deadline && spec.approval.onTimeout === 'escalate' && !escalated) {
      escalated = true;
      deadline = Date.now() + timeoutMs;
      view();
      updateCard();
      await tell('escalation');
    } else if (Date.now() >= deadline) {
      decision = { decision: 'rejected', approver: 'factory', channel: 'timeout', comment: `no decision within ${spec.approval.timeout}${escalated ? ' after escalation' : ''}`, decidedAt: new Date().toISOString(), votes: [...votes] };
      await tell('expiry');
    }
  }
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryAwaitingApproval, value: [] }]);
  updateCard();
  // The update that decided is answered before the pipeline moves on.
  await condition(allHandlersFinished);
  return decision;
}
