import { condition, log, patched, setHandler } from '@temporalio/workflow';
import type { Decision } from '../contracts/payloads';
import { durationMs } from '../specs/duration';
import type { ModelSpec } from '../specs/model-spec';
import { registry } from './activities';
import { approveSignal, approveUpdate, rejectSignal, rejectUpdate, supersedeSignal, type ApprovalRequest } from '../contracts/messages';

const UNSIGNED_GATE_CLOSED = 'unsigned-gate-closed';
const UNSIGNED_GATE =
  'this pipeline reached its approval gate before decisions were signed and can no longer be decided by hand; it ends by timeout or supersede: request a new training (factory train) for a candidate that can be approved';

/**
 * The approval gate as it was before decisions were signed, kept so that
 * pipelines which reached it then still replay (its commands are unchanged).
 * Such a pipeline can no longer be decided by a person: nothing it could check
 * proves who is deciding, so its update validator refuses every decision and
 * it ends by timeout or supersede. A new training goes through the signed gate.
 */
export async function awaitUnsignedDecision(model: string, version: number, spec: ModelSpec, workflowId: string, onDeadline: (iso: string) => void): Promise<Decision> {
  let decision: Decision | undefined;
  const denied: { request: ApprovalRequest; reason: string; action: string; closed: boolean }[] = [];

  const problem = (req: ApprovalRequest): string | undefined => {
    if (decision) return `${model} v${version} was already ${decision.decision} by ${decision.approver}`;
    if (req.version !== version) return `${model} is awaiting approval of v${version}, not v${req.version}`;
    if (!spec.approval.approvers.includes(req.approver ?? '')) {
      return `"${req.approver}" is not an approver of ${model} (approvers: ${spec.approval.approvers.join(', ')})`;
    }
    return undefined;
  };
  const decide = (verdict: Decision['decision'], req: ApprovalRequest, channel: Decision['channel']): Decision => {
    decision = { decision: verdict, approver: req.approver ?? '', channel: req.channel ?? channel, comment: req.comment, decidedAt: new Date().toISOString() };
    return decision;
  };
  // Validators run only for live updates, never on replay: refusing all of them changes no recorded command.
  const validator = (_req: ApprovalRequest) => {
    throw new Error(decision ? `${model} v${version} was already ${decision.decision} by ${decision.approver}` : UNSIGNED_GATE);
  };
  const answer = (d: Decision) => ({ decision: d, votes: [], required: 1, missing: 0 });
  setHandler(approveUpdate, (req) => answer(decide('approved', req, 'api')), { validator });
  setHandler(rejectUpdate, (req) => answer(decide('rejected', req, 'api')), { validator });
  const signalled = (verdict: Decision['decision']) => (req: ApprovalRequest) => {
    // Signals recorded before the gate closed replay as they were decided; every later one is refused (and audited).
    const closed = patched(UNSIGNED_GATE_CLOSED);
    const p = closed ? (problem(req) ?? UNSIGNED_GATE) : problem(req);
    if (p) denied.push({ request: req, reason: p, action: verdict === 'approved' ? 'version.approve' : 'version.reject', closed });
    else decide(verdict, req, 'web-ui');
  };
  setHandler(supersedeSignal, (t) => {
    if (decision || !spec.approval.supersede) return;
    decide('rejected', { version, approver: 'factory', comment: `superseded: a newer ${t.reason} trigger asked for a retrain${t.detail ? ` (${t.detail})` : ''}` }, 'supersede');
  });
  setHandler(approveSignal, signalled('approved'));
  setHandler(rejectSignal, signalled('rejected'));

  let deadline = Date.now() + durationMs(spec.approval.timeout);
  let escalated = false;
  onDeadline(new Date(deadline).toISOString());
  while (!decision) {
    const answered = await condition(() => decision !== undefined || denied.length > 0, Math.max(1, deadline - Date.now()));
    for (const d of denied.splice(0)) {
      // Once closed, what a signal claims is recorded as a claim, never as who acted.
      await registry.recordAudit({
        actor: d.closed ? 'unverified' : String(d.request.approver), action: d.action, model, version: d.request.version,
        channel: d.closed ? 'web-ui' : (d.request.channel ?? 'web-ui'), outcome: 'denied', details: { reason: d.reason, workflowId, ...(d.closed && { claimedBy: String(d.request.approver) }) },
      });
    }
    if (decision || answered) continue;
    if (spec.approval.onTimeout === 'escalate' && !escalated) {
      escalated = true;
      deadline = Date.now() + durationMs(spec.approval.timeout);
      onDeadline(new Date(deadline).toISOString());
      log.warn('approval request unanswered; escalating', { model, version });
      await registry.recordAudit({ actor: 'factory', action: 'approval.escalate', model, version, outcome: 'ok', details: { approvers: spec.approval.approvers, newDeadline: new Date(deadline).toISOString(), workflowId } });
      continue;
    }
    decide('rejected', { version, approver: 'factory', comment: `no decision within ${spec.approval.timeout}${escalated ? ' after escalation' : ''}` }, 'timeout');
  }
  return decision;
}
