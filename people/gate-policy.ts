import type { Pool, PoolClient } from 'pg';
import type { GatePolicy } from '../approvals/policy';
import type { Trigger } from '../contracts/payloads';
import { lastSpecChange, type ModelRow } from '../db/models';
import { resolveApprovers } from './directory';

/**
 * The approval policy of one candidate, read from its model's spec and the
 * directory: who is eligible (groups resolved, disabled people left out), who
 * is excluded by segregation of duties, and how many approvals are needed.
 * The gate resolves it once when the candidate arrives; the approvals service
 * resolves it again at each click, so a person disabled since cannot decide.
 */
export async function gatePolicy(db: Pool | PoolClient, model: ModelRow, version: number, trigger: Trigger): Promise<GatePolicy> {
  const { approval } = model.spec;
  const eligible = await resolveApprovers(db, approval.approvers);
  const excluded: Record<string, string> = {};
  if (approval.independent) {
    const change = await lastSpecChange(db, model.id);
    if (change) excluded[change.by] = `they last changed ${model.name}'s spec (${change.specSha256.slice(0, 12)} at ${change.at.toISOString()})`;
    if (trigger.reason === 'manual') excluded[trigger.requestedBy] = `they requested this training`;
  }
  return { model: model.name, version, eligible, excluded, required: approval.required };
}
