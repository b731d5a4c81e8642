import type { AssertionAction } from './assertion';

/**
 * Who may decide on one candidate, resolved from the model's spec and the
 * directory: the approvals service checks it before it signs (with the
 * directory as it is now), and the workflow checks it again before a vote
 * counts (with the directory as it was when the candidate reached the gate).
 * One rule, pure, so both read it the same way.
 */
export interface GatePolicy {
  model: string;
  version: number;
  /** Enabled people the spec's approvers name, directly or through a group. */
  eligible: string[];
  /** People who may not approve this candidate (segregation of duties), with why. */
  excluded: Record<string, string>;
  /** Distinct approvals needed; any one rejection rejects. */
  required: number;
}

export interface Vote {
  identity: string;
  decision: 'approved' | 'rejected';
  channel: 'slack' | 'cli';
  assertionId: string;
  comment?: string;
  at: string;
}

/** Why `identity` may not take `action` on this candidate now, or undefined when it may. */
export function refusal(policy: GatePolicy, identity: string, action: AssertionAction, votes: readonly Vote[]): string | undefined {
  const subject = `${policy.model} v${policy.version}`;
  if (!policy.eligible.includes(identity)) {
    return `"${identity}" is not an approver of ${policy.model} (approvers: ${policy.eligible.join(', ') || 'nobody enabled'})`;
  }
  if (action === 'approve' && policy.excluded[identity]) return `"${identity}" may not approve ${subject}: ${policy.excluded[identity]} (approval.independent)`;
  const earlier = votes.find((v) => v.identity === identity);
  if (earlier) return `"${identity}" already ${earlier.decision === 'approved' ? 'approved' : 'rejected'} ${subject}${policy.required > 1 ? `; ${policy.required} distinct approvers are needed` : ''}`;
  return undefined;
}

/** Where a gate stands after these votes: decided (and how), or how many approvals are still missing. */
export function tally(policy: GatePolicy, votes: readonly Vote[]): { outcome?: 'approved' | 'rejected'; missing: number } {
  if (votes.some((v) => v.decision === 'rejected')) return { outcome: 'rejected', missing: 0 };
  const missing = Math.max(0, policy.required - votes.length);
  return { outcome: missing === 0 ? 'approved' : undefined, missing };
}
