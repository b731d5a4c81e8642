import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import {
  abortEdgeRolloutUpdate,
  abortRolloutUpdate,
  approveUpdate,
  edgeRolloutWorkflowId,
  pauseEdgeRolloutUpdate,
  pauseRolloutUpdate,
  rejectUpdate,
  resumeEdgeRolloutUpdate,
  resumeRolloutUpdate,
  rolloutWorkflowId,
  type EdgeRolloutStatus,
  type GateAnswer,
  type RolloutControl,
  type RolloutStatus,
} from '../contracts/messages';
import type { Trigger } from '../contracts/payloads';
import { logger } from '../config/logger';
import { audit, findModel, UnknownModelError, type ModelRow } from '../db/models';
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
  const refuse = refuser<GateAnswer>(db, person, channel, `version.${req.action}`, req, { comment: req.comment });
  const model = await modelFor(db, person, req.model);
  if ('reason' in model) return refuse(model.status, model.reason);
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

/** A refusal made before anything is signed: audited under the person's verified identity, answered with why. */
function refuser<T>(db: Pool, person: Person, channel: Channel, action: string, req: { model: string; version: number }, details: Record<string, unknown>) {
  return async (status: 403 | 404 | 409, reason: string): Promise<Outcome<T>> => {
    await audit(db, { actor: person.id, action, model: req.model, version: req.version, channel, outcome: 'denied', details: { reason, ...details } });
    return { ok: false, status, reason };
  };
}

/** The model an enabled person acts on, or why not. */
async function modelFor(db: Pool, person: Person, name: string): Promise<ModelRow | { status: 403 | 404; reason: string }> {
  if (person.disabled) return { status: 403, reason: `"${person.id}" is disabled in the directory` };
  return findModel(db, name).catch((err) => (err instanceof UnknownModelError ? { status: 404 as const, reason: err.message } : Promise.reject(err)));
}

/** How long a rollout that has just started may take to set itself up before a steering update finds its handlers. */
const SETTING_UP_MS = 15_000;

/**
 * A rollout registers its handlers once its first activity has read its policy
 * and chosen its devices; an update sent in that moment finds none and is
 * rejected before any validator saw it (its assertion unused), so it is sent again.
 */
async function whenSetUp<T>(send: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SETTING_UP_MS;
  for (;;) {
    try {
      return await send();
    } catch (err) {
      const settingUp = err instanceof WorkflowUpdateFailedError && /^No registered handler for update/.test(err.cause?.message ?? '');
      if (!settingUp || Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}

const ROLLOUT_UPDATES = { pause: pauseRolloutUpdate, resume: resumeRolloutUpdate, abort: abortRolloutUpdate } as const;
const EDGE_ROLLOUT_UPDATES = { pause: pauseEdgeRolloutUpdate, resume: resumeEdgeRolloutUpdate, abort: abortEdgeRolloutUpdate } as const;

/**
 * Pause, resume or abort a rollout to the serving fleet, or with `group` to
 * that device group: the model's approvers may, with an assertion the rollout
 * verifies.
 */
export async function steer(
  deps: DecisionDeps,
  person: Person,
  channel: Channel,
  req: { action: RolloutAction; model: string; version: number; reason?: string; group?: string },
): Promise<Outcome<RolloutStatus | EdgeRolloutStatus>> {
  const { db } = deps;
  const refuse = refuser<RolloutStatus | EdgeRolloutStatus>(db, person, channel, `rollout.${req.action}`, req, { why: req.reason, group: req.group });
  const model = await modelFor(db, person, req.model);
  if ('reason' in model) return refuse(model.status, model.reason);
  const operators: string[] = await resolveApprovers(db, model.spec.approval.approvers).catch((err) => (err instanceof DirectoryError ? [] : Promise.reject(err)));
  if (!operators.includes(person.id)) return refuse(403, `"${person.id}" may not steer ${req.model} rollouts (allowed: ${operators.join(', ') || 'nobody enabled'})`);
  const workflowId = req.group ? edgeRolloutWorkflowId(req.model, req.version, req.group) : rolloutWorkflowId(req.model, req.version);
  const assertion = deps.key.sign({ workflowId, model: req.model, version: req.version, action: req.action, identity: person.id, channel, comment: req.reason });
  try {
    const args: [RolloutControl] = [{ by: person.id, reason: req.reason, assertion }];
    const handle = deps.client.workflow.getHandle(workflowId);
    const answer = await whenSetUp<RolloutStatus | EdgeRolloutStatus>(() => (req.group ? handle.executeUpdate(EDGE_ROLLOUT_UPDATES[req.action], { args }) : handle.executeUpdate(ROLLOUT_UPDATES[req.action], { args })));
    await audit(db, { actor: person.id, action: `rollout.${req.action}`, model: req.model, version: req.version, channel, outcome: 'ok', details: { reason: req.reason, assertionId: assertion.claims.nonce, workflowId } });
    return { ok: true, answer };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return refuse(409, err.cause?.message ?? err.message);
    if ((err as Error).name === 'WorkflowNotFoundError') return refuse(404, `${req.model} v${req.version} has no rollout${req.group ? ` to device group ${req.group}` : ''}`);
    throw err;
  }
}
