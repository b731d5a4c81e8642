import { verifyAssertion } from '../approvals/assertion';
import type { RolloutControl } from '../contracts/messages';

/**
 * Who may steer a rollout (to the serving fleet or to devices), in one place:
 * an operator of the model, by an action the approvals service signed for this
 * workflow and version, each assertion once. `check` is for update validators,
 * which run live, so a refusal changes no history; `signed` is for the
 * handler: who steered and why, as signed.
 */
export function steering(o: { workflowId: string; model: string; version: number; operators: string[]; publicKeys: Record<string, string>; ended: () => string | undefined }) {
  const usedNonces = new Set<string>();
  return {
    check: (action: 'pause' | 'resume' | 'abort') => (c: RolloutControl) => {
      const ended = o.ended();
      if (ended) throw new Error(ended);
      const checked = verifyAssertion(c.assertion, o.publicKeys, { workflowId: o.workflowId, version: o.version, actions: [action] }, Date.now(), usedNonces);
      if (!checked.ok) throw new Error(checked.reason);
      if (!o.operators.includes(checked.claims.identity)) throw new Error(`"${checked.claims.identity}" may not steer ${o.model} rollouts (allowed: ${o.operators.join(', ')})`);
    },
    /** Histories from before signed steering carry only `by` and `reason`: those are taken as they are. */
    signed: (c: RolloutControl): RolloutControl => {
      if (!c.assertion) return c;
      usedNonces.add(c.assertion.claims.nonce);
      return { by: c.assertion.claims.identity, reason: c.assertion.claims.comment };
    },
  };
}
