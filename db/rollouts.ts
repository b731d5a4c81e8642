import type { Pool, PoolClient } from 'pg';
import type { RolloutPhase } from '../contracts/payloads';
import { ACTIVE_ROLLOUT_PHASES, CHAMPION_CHANNEL, clearChampion, findChampion, setChampion } from './champion';
import { audit, type ModelRow } from './models';

/**
 * A rollout's state in PostgreSQL, where serving replicas read it: its row in
 * `rollouts`, the version statuses it moves, the champion alias and the
 * deployment history. Each function runs inside the caller's transaction and
 * ends with the NOTIFY that makes replicas act at once (delivered on commit).
 */

export interface VersionRow {
  id: string;
  version: number;
  status: string;
  artifact_key: string;
  artifact_sha256: string;
  artifact_bytes: string;
}

export const notifyReplicas = (db: Pool | PoolClient, payload: { model: string; event?: string; version?: number }) =>
  db.query('SELECT pg_notify($1, $2)', [CHAMPION_CHANNEL, JSON.stringify(payload)]);

export async function findVersion(tx: PoolClient, modelId: number, version: number): Promise<VersionRow | undefined> {
  const r = await tx.query<VersionRow>('SELECT id, version, status, artifact_key, artifact_sha256, artifact_bytes FROM model_versions WHERE model_id = $1 AND version = $2', [modelId, version]);
  return r.rows[0];
}

/** Serialises alias moves and version numbering per model. */
export const lockModel = (tx: PoolClient, modelId: number) => tx.query('SELECT id FROM models WHERE id = $1 FOR UPDATE', [modelId]);

/** The rollout's row for a workflow (a retried activity finds its own), or a new one in `checking`; throws if another is in progress. */
export async function openRollout(tx: PoolClient, model: ModelRow, candidate: VersionRow, workflowId: string, actor: string): Promise<{ rolloutId: number; championVersion?: number }> {
  const champion = await findChampion(tx, model.id);
  const existing = await tx.query<{ id: string }>('SELECT id FROM rollouts WHERE workflow_id = $1', [workflowId]);
  if (existing.rowCount) return { rolloutId: Number(existing.rows[0].id), championVersion: champion?.version };
  if (candidate.status !== 'approved') throw new RolloutRefused(`${model.name} v${candidate.version} is ${candidate.status}, not approved`, 'NotApproved');
  const active = await tx.query<{ workflow_id: string }>('SELECT workflow_id FROM rollouts WHERE model_id = $1 AND phase = ANY($2)', [model.id, ACTIVE_ROLLOUT_PHASES]);
  if (active.rowCount) throw new RolloutRefused(`${model.name} already has a rollout in progress (${active.rows[0].workflow_id})`, 'RolloutInProgress');
  const row = await tx.query<{ id: string }>(
    "INSERT INTO rollouts (model_id, candidate_version_id, champion_version_id, phase, workflow_id) VALUES ($1, $2, $3, 'checking', $4) RETURNING id",
    [model.id, candidate.id, champion?.versionId ?? null, workflowId],
  );
  await tx.query("UPDATE model_versions SET status = 'rolling_out', updated_at = now() WHERE id = $1", [candidate.id]);
  await audit(tx, { actor, action: 'rollout.start', model: model.name, version: candidate.version, outcome: 'ok', details: { workflowId, champion: champion?.version } });
  return { rolloutId: Number(row.rows[0].id), championVersion: champion?.version };
}

/** A rollout that may not start or go on: the activity fails without retrying. */
export class RolloutRefused extends Error {
  constructor(message: string, readonly type: string) {
    super(message);
    this.name = 'RolloutRefused';
  }
}

/** Moves the rollout to a phase (and traffic split); returns the database's time, the start of the phase's window. */
export async function setPhase(db: Pool, input: { rolloutId: number; model: string; phase: RolloutPhase; canaryPercent?: number; paused?: boolean }): Promise<{ at: string }> {
  const r = await db.query<{ at: Date }>(
    `UPDATE rollouts SET phase = $2, canary_percent = COALESCE($3, canary_percent), paused = COALESCE($4, paused), updated_at = now()
      WHERE id = $1 RETURNING updated_at AS at`,
    [input.rolloutId, input.phase, input.canaryPercent ?? null, input.paused ?? null],
  );
  await notifyReplicas(db, { model: input.model, event: `rollout.${input.phase}` });
  return { at: r.rows[0].at.toISOString() };
}

export async function complete(db: Pool, input: { rolloutId: number; model: string; version: number; workflowId: string }): Promise<void> {
  await db.query("UPDATE rollouts SET phase = 'completed', finished_at = now(), updated_at = now() WHERE id = $1", [input.rolloutId]);
  await audit(db, { actor: 'factory', action: 'rollout.complete', model: input.model, version: input.version, outcome: 'ok', details: { workflowId: input.workflowId } });
}

/**
 * Moves the champion alias to the candidate and the rollout to its full phase
 * in one write (one notification for the replicas); the previous champion is
 * kept for the compensation. Returns the previous champion if the alias moved.
 */
export async function promote(tx: PoolClient, model: ModelRow, rolloutId: number, target: VersionRow, actor: string, workflowId: string): Promise<{ moved: boolean; previousChampion?: number; at: string }> {
  if (!['rolling_out', 'champion'].includes(target.status)) throw new RolloutRefused(`${model.name} v${target.version} is ${target.status}, not rolling out`, 'NotRollingOut');
  const previous = await findChampion(tx, model.id);
  const full = await tx.query<{ at: Date }>("UPDATE rollouts SET phase = 'full', updated_at = now() WHERE id = $1 RETURNING updated_at AS at", [rolloutId]);
  const at = full.rows[0].at.toISOString();
  if (previous?.versionId === target.id) return { moved: false, at };
  await setChampion(tx, model.id, target.id, previous?.versionId ?? null);
  await tx.query("UPDATE model_versions SET status = 'champion', status_reason = NULL, updated_at = now() WHERE id = $1", [target.id]);
  if (previous) await tx.query("UPDATE model_versions SET status = 'retired', updated_at = now() WHERE id = $1", [previous.versionId]);
  await tx.query(
    "INSERT INTO deployments (model_id, version_id, previous_version_id, action, actor, workflow_id) VALUES ($1, $2, $3, 'promote', $4, $5)",
    [model.id, target.id, previous?.versionId ?? null, actor, workflowId],
  );
  await notifyReplicas(tx, { model: model.name, version: target.version });
  await audit(tx, { actor, action: 'version.promote', model: model.name, version: target.version, outcome: 'ok', details: { previousChampion: previous?.version, workflowId } });
  return { moved: true, previousChampion: previous?.version, at };
}

/**
 * The compensation: the champion alias goes back to the version it replaced
 * (if it had moved), the candidate leaves every replica, and why is kept on
 * the version, the rollout, the deployment history and the audit trail.
 * Returns undefined if the rollout was already rolled back.
 */
export async function rollBack(tx: PoolClient, model: ModelRow, rolloutId: number, version: number, reason: string, actor: string, workflowId: string): Promise<{ restoredChampion?: number } | undefined> {
  const r = await tx.query<{ candidate_version_id: string; champion_version_id: string | null; phase: string }>(
    'SELECT candidate_version_id, champion_version_id, phase FROM rollouts WHERE id = $1',
    [rolloutId],
  );
  const { candidate_version_id: candidateId, champion_version_id: previousId, phase } = r.rows[0];
  if (phase === 'rolled_back') return undefined;
  let restored: number | undefined;
  const champion = await findChampion(tx, model.id);
  if (champion?.versionId === candidateId) {
    if (previousId) {
      await setChampion(tx, model.id, previousId, candidateId);
      await tx.query("UPDATE model_versions SET status = 'champion', updated_at = now() WHERE id = $1", [previousId]);
      restored = (await tx.query<{ version: number }>('SELECT version FROM model_versions WHERE id = $1', [previousId])).rows[0].version;
    } else {
      await clearChampion(tx, model.id);
    }
    await tx.query(
      "INSERT INTO deployments (model_id, version_id, previous_version_id, action, actor, workflow_id, reason) VALUES ($1, $2, $3, 'rollback', $4, $5, $6)",
      [model.id, previousId ?? candidateId, candidateId, actor, workflowId, reason],
    );
  }
  await tx.query("UPDATE model_versions SET status = 'rolled_back', status_reason = $2, updated_at = now() WHERE id = $1", [candidateId, reason]);
  await tx.query("UPDATE rollouts SET phase = 'rolled_back', reason = $2, finished_at = now(), updated_at = now() WHERE id = $1", [rolloutId, reason]);
  await notifyReplicas(tx, { model: model.name, event: 'rollout.rolled_back' });
  await audit(tx, { actor, action: 'rollout.rollback', model: model.name, version, outcome: 'ok', details: { reason, restoredChampion: restored, workflowId } });
  return { restoredChampion: restored };
}
