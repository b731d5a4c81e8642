import { ApplicationFailure } from '@temporalio/activity';
import { metrics } from '../config/metrics';
import { findChampion } from '../db/champion';
import { audit, findModel, UnknownModelError, type AuditEvent } from '../db/models';
import { inTransaction } from '../db/pool';
import type { Verdict } from '../ml/policy';
import type { ActivityDeps } from './deps';
import type { Decision, LoadedModel, SnapshotRef, Trigger, TrainingResult } from '../contracts/payloads';

type VersionStatus = 'awaiting_approval' | 'rejected' | 'failed_policy' | 'failed' | 'approved';

/** Registry activities (control pool): every write to the registry, lineage and audit trail. */
export function createRegistryActivities({ db }: ActivityDeps) {
  return {
    async loadModel(name: string): Promise<LoadedModel> {
      const model = await findModel(db, name).catch((err) => {
        if (err instanceof UnknownModelError) throw ApplicationFailure.nonRetryable(err.message, 'UnknownModel');
        throw err;
      });
      const champion = await findChampion(db, model.id);
      return { name, spec: model.spec, champion: champion && { version: champion.version, artifact: champion.artifact } };
    },

    /** Records the training run and its candidate version; a retry returns the version already registered. */
    async registerCandidate(input: {
      model: string;
      workflowId: string;
      trigger: Trigger;
      snapshot: SnapshotRef;
      training: TrainingResult;
    }): Promise<{ version: number }> {
      return inTransaction(db, async (tx) => {
        const model = await findModel(tx, input.model);
        const known = await tx.query<{ version: number }>('SELECT version FROM model_versions WHERE workflow_id = $1', [input.workflowId]);
        if (known.rowCount) return { version: known.rows[0].version };
        // Serialises version numbering per model.
        await tx.query('SELECT id FROM models WHERE id = $1 FOR UPDATE', [model.id]);
        const t = input.training;
        const run = await tx.query<{ id: string }>(
          `INSERT INTO training_runs (model_id, snapshot_id, workflow_id, trigger, trainer, artifact_key, artifact_sha256, artifact_bytes, metrics, wall_ms, cpu_ms,
             energy_kwh, energy_cost, energy_currency, energy)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
          [model.id, input.snapshot.snapshotId, input.workflowId, JSON.stringify(input.trigger), JSON.stringify(model.spec.trainer),
            t.artifact.key, t.artifact.sha256, t.artifact.bytes, JSON.stringify({ ...t.metrics, peakRssMb: t.peakRssMb }), t.wallMs, t.cpuMs,
            t.energy.kWh, t.energy.cost, t.energy.currency, JSON.stringify(t.energy)],
        );
        const next = await tx.query<{ version: number }>('SELECT COALESCE(MAX(version), 0) + 1 AS version FROM model_versions WHERE model_id = $1', [model.id]);
        const version = next.rows[0].version;
        await tx.query(
          `INSERT INTO model_versions (model_id, version, training_run_id, snapshot_id, artifact_key, artifact_sha256, artifact_bytes, status, workflow_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'candidate', $8)`,
          [model.id, version, run.rows[0].id, input.snapshot.snapshotId, t.artifact.key, t.artifact.sha256, t.artifact.bytes, input.workflowId],
        );
        await audit(tx, { actor: input.trigger.requestedBy, action: 'version.register', model: input.model, version, outcome: 'ok', details: { trigger: input.trigger, artifact: t.artifact.sha256 } });
        return { version };
      });
    },

    async recordVerdict(input: { evaluationId: number; verdict: Verdict }): Promise<void> {
      await db.query('UPDATE evaluations SET verdict = $2, passed = $3 WHERE id = $1', [input.evaluationId, JSON.stringify(input.verdict), input.verdict.passed]);
    },

    async setVersionStatus(input: { model: string; version: number; status: VersionStatus; reason?: string }): Promise<void> {
      await db.query(
        `UPDATE model_versions SET status = $3, status_reason = $4, updated_at = now()
          WHERE model_id = (SELECT id FROM models WHERE name = $1) AND version = $2`,
        [input.model, input.version, input.status, input.reason ?? null],
      );
    },

    /** Records a human (or timeout) decision with who, when, channel and comment; idempotent per version. */
    async recordDecision(input: { model: string; version: number; workflowId: string; decision: Decision }): Promise<void> {
      const d = input.decision;
      await inTransaction(db, async (tx) => {
        const v = await tx.query<{ id: string }>(
          'SELECT v.id FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2',
          [input.model, input.version],
        );
        const inserted = await tx.query(
          `INSERT INTO approvals (model_version_id, decision, decided_by, channel, comment, decided_at, workflow_id, assertion_ids)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (model_version_id) DO NOTHING`,
          [v.rows[0].id, d.decision, d.approver, d.channel, d.comment ?? null, d.decidedAt, input.workflowId, (d.votes ?? []).map((vote) => vote.assertionId)],
        );
        if (inserted.rowCount === 0) return;
        metrics.decisions.inc({ model: input.model, decision: d.decision, channel: d.channel });
        await tx.query("UPDATE model_versions SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1", [
          v.rows[0].id,
          d.decision,
          d.comment ?? null,
        ]);
        await audit(tx, {
          actor: d.approver,
          action: d.decision === 'approved' ? 'version.approve' : 'version.reject',
          model: input.model,
          version: input.version,
          channel: d.channel,
          outcome: 'ok',
          details: { comment: d.comment, decidedAt: d.decidedAt, workflowId: input.workflowId, votes: (d.votes ?? []).map((vote) => ({ identity: vote.identity, decision: vote.decision, channel: vote.channel, assertionId: vote.assertionId })) },
        });
      });
    },

    async recordAudit(event: AuditEvent): Promise<void> {
      await audit(db, event);
    },
  };
}

export type RegistryActivities = ReturnType<typeof createRegistryActivities>;
