import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { abortRolloutUpdate, approveUpdate, pauseRolloutUpdate, rejectUpdate, resumeRolloutUpdate, rolloutWorkflowId, type GateAnswer, type RolloutStatus } from '../contracts/messages';
import type { Trigger } from '../contracts/payloads';
import { logger } from '../config/logger';
import { audit, findModel, UnknownModelError } from '../db/models';
import { gatePolicy } from '../people/gate-policy';
import { DirectoryError, resolveApprovers, type Person } from '../people/directory';
import type { AssertionAction } from './assertion';
import { refusal, type Vote } from './policy';
import type { SigningKey } from './signing-key';

export interface DecisionDeps {
  db: Pool;
  client: Client;
  key: SigningKey;
}

export type Channel = 'slack' | 'cli';
export type GateAction = Extract<AssertionAction, 'approve' | 'reject'>;
export type RolloutAction = Extract<AssertionAction, 'pause' | 'resume' | 'abort'>;

export type Outcome<T> = { ok: true; answer: T } | { ok: false; status: 403 | 404 | 409; reason: string };

/**
 * The approvals service's one path for a person's action, whatever channel
 * brought it: the person is already authenticated (a verified Slack request or
 * a CLI token); here the model's policy is checked with the directory as it is
 * now, an assertion is signed, and the workflow's update is sent with it. The
 * workflow checks everything again and has the last word. Refusals made here,
 * before anything is signed, are audited here.
 */
export async function decide(deps: DecisionDeps, person: Person, channel: Channel, req: { action: GateAction; model: string; version: number; comment?: string; workflowId?: string }): Promise<Outcome<GateAnswer>> {
  const { db } = deps;
  const refuse = async (status: 403 | 404 | 409, reason: string): Promise<Outcome<GateAnswer>> => {
    await audit(db, { actor: person.id, action: `version.${req.action}`, model: req.model, version: req.version, channel, outcome: 'denied', details: { reason, comment: req.comment } });
    return { ok: false, status, reason };
  };
  if (person.disabled) return refuse(403, `"${person.id}" is disabled in the directory`);
  const model = await findModel(db, req.model).catch((err) => (err instanceof UnknownModelError ? err : Promise.reject(err)));
  if (model instanceof UnknownModelError) return refuse(404, model.message);
  const row = await db.query<{ id: string; status: string; workflow_id: string; trigger: Trigger }>(
    'SELECT v.id, v.status, v.workflow_id, t.trigger FROM model_versions v JOIN training_runs t ON t.id = v.training_run_id WHERE v.model_id = $1 AND v.version = $2',
    [model.id, req.version],
  );
  const v = row.rows[0];
  if (!v) return refuse(404, `${req.model} has no version ${req.version}`);
  if (v.status !== 'awaiting_approval') return refuse(409, `${req.model} v${req.version} is not awaiting approval: it is ${v.status.replace('_', ' ')}`);
  if (req.workflowId && req.workflowId !== v.workflow_id) return refuse(409, `this card is for a pipeline that no longer decides ${req.model} v${req.version}`);
  const policy = await gatePolicy(db, model, req.version, v.trigger).catch((err) => (err instanceof DirectoryError ? err : Promise.reject(err)));
  if (policy instanceof DirectoryError) return refuse(409, `${req.model}'s approval.approvers: ${policy.message}`);
  const votes = await db.query<Vote & { identity: string }>(
    "SELECT person_id AS identity, decision, channel, assertion_id AS \"assertionId\", comment, decided_at AS at FROM approval_votes WHERE model_version_id = $1",
    [v.id],
  );
  const why = refusal(policy, person.id, req.action, votes.rows);
  if (why) return refuse(403, why);
  const assertion = deps.key.sign({ workflowId: v.workflow_id, model: req.model, version: req.version, action: req.action, identity: person.id, channel, comment: req.comment });
  try {
    const answer = await deps.client.workflow
      .getHandle(v.workflow_id)
      .executeUpdate(req.action === 'approve' ? approveUpdate : rejectUpdate, { args: [{ version: req.version, assertion }] });
    logger.info({ model: req.model, version: req.version, identity: person.id, channel, action: req.action, assertionId: assertion.claims.nonce }, 'decision delivered');
    return { ok: true, answer };
  } catch (err) {
    // The workflow refused it, and audited the refusal itself.
    if (err instanceof WorkflowUpdateFailedError) return { ok: false, status: 409, reason: err.cause?.message ?? err.message };
    if ((err as Error).name === 'WorkflowNotFoundError') return refuse(409, `${req.model} v${req.version}'s pipeline ${v.workflow_id} is not running on this Temporal namespace`);
    throw err;
  }
}

const ROLLOUT_UPDATES = { pause: pauseRolloutUpdate, resume: resumeRolloutUpdate, abort: abortRolloutUpdate } as const;

/** Pause, resume or abort a rollout: the model's approvers may, with an assertion the rollout verifies. */
export async function steer(deps: DecisionDeps, person: Person, channel: Channel, req: { action: RolloutAction; model: string; version: number; reason?: string }): Promise<Outcome<RolloutStatus>> {
  const { db } = deps;
  const refuse = async (status: 403 | 404 | 409, reason: string): Promise<Outcome<RolloutStatus>> => {
    await audit(db, { actor: person.id, action: `rollout.${req.action}`, model: req.model, version: req.version, channel, outcome: 'denied', details: { reason, why: req.reason } });
    return { ok: false, status, reason };
  };
  if (person.disabled) return refuse(403, `"${person.id}" is disabled in the directory`);
  const model = await findModel(db, req.model).catch((err) => (err instanceof UnknownModelError ? err : Promise.reject(err)));
  if (model instanceof UnknownModelError) return refuse(404, model.message);
  const operators: string[] = await resolveApprovers(db, model.spec.approval.approvers).catch((err) => (err instanceof DirectoryError ? [] : Promise.reject(err)));
  if (!operators.includes(person.id)) return refuse(403, `"${person.id}" may not steer ${req.model} rollouts (allowed: ${operators.join(', ') || 'nobody enabled'})`);
  const workflowId = rolloutWorkflowId(req.model, req.version);
  const assertion = deps.key.sign({ workflowId, model: req.model, version: req.version, action: req.action, identity: person.id, channel, comment: req.reason });
  try {
    const answer = await deps.client.workflow.getHandle(workflowId).executeUpdate(ROLLOUT_UPDATES[req.action], { args: [{ by: person.id, reason: req.reason, assertion }] });
    await audit(db, { actor: person.id, action: `rollout.${req.action}`, model: req.model, version: req.version, channel, outcome: 'ok', details: { reason: req.reason, assertionId: assertion.claims.nonce, workflowId } });
    return { ok: true, answer };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return refuse(409, err.cause?.message ?? err.message);
    if ((err as Error).name === 'WorkflowNotFoundError') return refuse(404, `${req.model} v${req.version} has no rollout`);
    throw err;
  }
}
