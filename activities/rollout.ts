import { ApplicationFailure, Context } from '@temporalio/activity';
import { logger } from '../config/logger';
import { metrics } from '../config/metrics';
import { audit, findModel } from '../db/models';
import { inTransaction } from '../db/pool';
import { psi } from '../ml/drift';
import type { GuardStats, LiveWindow } from '../ml/rollout-guard';
import { OnnxScorer } from '../ml/scoring';
import { CHAMPION_CHANNEL } from '../serving/channel';
import type { RolloutPolicy } from '../specs/model-spec';
import { refOf } from '../storage/artifacts';
import type { ActivityDeps } from './deps';
import type { LogWindow, ReplicaExpectation, ReplicaReport, RolloutPhase } from './types';

/** Scores more than this per window add little to a PSI and cost a large transfer. */
const SCORE_SAMPLE = 20_000;

interface VersionRow {
  id: string;
  version: number;
  status: string;
  artifact_key: string;
  artifact_sha256: string;
  artifact_bytes: string;
}

/**
 * Rollout activities (control pool). The rollout workflow decides; these write
 * the rollout's state where serving replicas read it (PostgreSQL, with a NOTIFY
 * so they act at once), wait for the replicas, and read the prediction log.
 */
export function createRolloutActivities({ db, store, notifyUrl }: ActivityDeps) {
  const notifyReplicas = (model: string, event: string) => db.query('SELECT pg_notify($1, $2)', [CHAMPION_CHANNEL, JSON.stringify({ model, event })]);

  return {
    /** Opens the rollout record (once per workflow: a retry finds its own row) and says what it starts from. */
    async beginRollout(input: { model: string; version: number; workflowId: string; actor: string }) {
      return inTransaction(db, async (tx) => {
        const model = await findModel(tx, input.model);
        const existing = await tx.query<{ id: string }>('SELECT id FROM rollouts WHERE workflow_id = $1', [input.workflowId]);
        const candidate = await tx.query<VersionRow>('SELECT id, version, status FROM model_versions WHERE model_id = $1 AND version = $2', [model.id, input.version]);
        if (candidate.rowCount === 0) throw ApplicationFailure.nonRetryable(`${input.model} has no version ${input.version}`, 'UnknownVersion');
        const champion = await tx.query<{ version_id: string; version: number }>(
          `SELECT a.version_id, v.version FROM model_aliases a JOIN model_versions v ON v.id = a.version_id WHERE a.model_id = $1 AND a.alias = 'champion'`,
          [model.id],
        );
        let rolloutId = existing.rows[0]?.id;
        if (!rolloutId) {
          const { status } = candidate.rows[0];
          if (status !== 'approved') throw ApplicationFailure.nonRetryable(`${input.model} v${input.version} is ${status}, not approved`, 'NotApproved');
          const active = await tx.query<{ workflow_id: string }>(
            "SELECT workflow_id FROM rollouts WHERE model_id = $1 AND phase IN ('checking', 'shadow', 'canary', 'full')",
            [model.id],
          );
          if (active.rowCount) throw ApplicationFailure.nonRetryable(`${input.model} already has a rollout in progress (${active.rows[0].workflow_id})`, 'RolloutInProgress');
          const row = await tx.query<{ id: string }>(
            "INSERT INTO rollouts (model_id, candidate_version_id, champion_version_id, phase, workflow_id) VALUES ($1, $2, $3, 'checking', $4) RETURNING id",
            [model.id, candidate.rows[0].id, champion.rows[0]?.version_id ?? null, input.workflowId],
          );
          rolloutId = row.rows[0].id;
          await tx.query("UPDATE model_versions SET status = 'rolling_out', updated_at = now() WHERE id = $1", [candidate.rows[0].id]);
          await audit(tx, { actor: input.actor, action: 'rollout.start', model: input.model, version: input.version, outcome: 'ok', details: { workflowId: input.workflowId, champion: champion.rows[0]?.version } });
        }
        return {
          rolloutId: Number(rolloutId),
          policy: model.spec.rollout as RolloutPolicy,
          championVersion: champion.rows[0]?.version as number | undefined,
          /** Who may pause, resume or abort: the model's approvers. */
          operators: model.spec.approval.approvers,
        };
      });
    },

    /** The serving-side infra check: the candidate's bytes verify against their sha256, load in ONNX Runtime and score canary rows to probabilities. */
    async checkCandidate(input: { model: string; version: number }): Promise<{ loadMs: number; scoreMs: number }> {
      const model = await findModel(db, input.model);
      const row = await db.query<VersionRow>('SELECT artifact_key, artifact_sha256, artifact_bytes FROM model_versions WHERE model_id = $1 AND version = $2', [model.id, input.version]);
      const v = row.rows[0];
      const started = performance.now();
      const bytes = await store.get(refOf(v));
      const scorer = await OnnxScorer.load(bytes, model.spec.features.length).catch((err) => {
        throw ApplicationFailure.nonRetryable(`v${input.version} does not load in ONNX Runtime: ${err.message}`, 'InfraCheck');
      });
      const loaded = performance.now();
      try {
        const F = model.spec.features.length;
        const rows = model.spec.features.map((_, i) => Float32Array.from(model.spec.features, (f, j) => (i === j ? (f.max ?? 1) : (f.min ?? 0))));
        const x = new Float32Array(rows.length * F);
        rows.forEach((r, i) => x.set(r, i * F));
        const scores = await scorer.score(x, rows.length);
        const bad = Array.from(scores).findIndex((p) => !(p >= 0 && p <= 1));
        if (scores.length !== rows.length || bad >= 0) {
          throw ApplicationFailure.nonRetryable(`v${input.version} answered ${scores.length} scores for ${rows.length} canary rows${bad >= 0 ? `, row ${bad} scored ${scores[bad]}` : ''}`, 'InfraCheck');
        }
        return { loadMs: loaded - started, scoreMs: performance.now() - loaded };
      } finally {
        await scorer.release();
      }
    },

    /** Moves the rollout to a phase (and traffic split) and tells the replicas; returns the database's time, the start of the phase's window. */
    async setRolloutPhase(input: { rolloutId: number; model: string; phase: RolloutPhase; canaryPercent?: number; paused?: boolean }): Promise<{ at: string }> {
      const r = await db.query<{ at: Date }>(
        `UPDATE rollouts SET phase = $2, canary_percent = COALESCE($3, canary_percent), paused = COALESCE($4, paused), updated_at = now()
          WHERE id = $1 RETURNING updated_at AS at`,
        [input.rolloutId, input.phase, input.canaryPercent ?? null, input.paused ?? null],
      );
      await notifyReplicas(input.model, `rollout.${input.phase}`);
      return { at: r.rows[0].at.toISOString() };
    },

    /**
     * Waits until every live replica reports the expected versions. A replica
     * silent for `replicaTimeoutMs` is gone and not waited for; one that is alive
     * but does not get there within `waitMs` is reported as lagging.
     */
    async awaitReplicas(input: { model: string; expect: ReplicaExpectation; replicaTimeoutMs: number; waitMs: number }): Promise<ReplicaReport> {
      const deadline = Date.now() + input.waitMs;
      for (;;) {
        const live = await db.query<{ replica_id: string; serving: Record<string, { champion?: number; candidate?: number | null }> }>(
          "SELECT replica_id, serving FROM serving_replicas WHERE heartbeat_at > now() - make_interval(secs => $1) ORDER BY replica_id",
          [input.replicaTimeoutMs / 1000],
        );
        const lagging = live.rows
          .filter((r) => r.serving[input.model]?.champion !== input.expect.champion || (r.serving[input.model]?.candidate ?? null) !== input.expect.candidate)
          .map((r) => `${r.replica_id} (${JSON.stringify(r.serving[input.model] ?? {})})`);
        const replicas = live.rows.map((r) => r.replica_id);
        Context.current().heartbeat({ replicas: replicas.length, lagging });
        if (lagging.length === 0) return { ready: true, replicas, lagging };
        if (Date.now() > deadline) return { ready: false, replicas, lagging };
        await new Promise((r) => setTimeout(r, 250));
      }
    },

    /**
     * Reads two windows of the prediction log: counts, errors and latency in SQL,
     * the score PSI here. In the shadow phase both versions scored the same
     * requests, so the baseline is narrowed to those (paired) and the comparison
     * is free of sampling differences. The PSI is computed only once each side
     * has `minScores` scores: on a few dozen, ten bins give a large index by chance.
     */
    async readGuardStats(input: { model: string; candidate: LogWindow; baseline: LogWindow; paired: boolean; minScores: number }): Promise<GuardStats> {
      const read = async (w: LogWindow, pairedWith?: LogWindow): Promise<LiveWindow & { scores: number[] }> => {
        const r = await db.query<{ requests: string; errors: string; p50: number | null; p99: number | null; mean: number | null; scores: number[] | null }>(
          `WITH w AS (
             SELECT request_id, bool_and(ok) AS ok, max(latency_ms) AS latency_ms, avg(score) AS score FROM predictions
              WHERE model = $1 AND version = $2 AND role = $3 AND at >= $4 AND ($5::timestamptz IS NULL OR at < $5)
                AND ($6::int IS NULL OR request_id IN (SELECT request_id FROM predictions WHERE model = $1 AND version = $6 AND role = $7 AND at >= $8))
              GROUP BY request_id)
           SELECT count(*) AS requests, count(*) FILTER (WHERE NOT ok) AS errors,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99,
                  avg(score) AS mean,
                  (SELECT array_agg(score) FROM (SELECT score FROM w WHERE score IS NOT NULL LIMIT ${SCORE_SAMPLE}) s) AS scores
             FROM w`,
          [input.model, w.version, w.role, w.from, w.to ?? null, pairedWith?.version ?? null, pairedWith?.role ?? null, pairedWith?.from ?? null],
        );
        const x = r.rows[0];
        const requests = Number(x.requests);
        const errors = Number(x.errors);
        return { version: w.version, requests, errors, errorRate: requests ? errors / requests : 0, p50Ms: x.p50 ?? 0, p99Ms: x.p99 ?? 0, meanScore: x.mean ?? 0, scores: x.scores ?? [] };
      };
      const [{ scores: c, ...candidate }, { scores: b, ...baseline }] = await Promise.all([
        read(input.candidate),
        read(input.baseline, input.paired ? input.candidate : undefined),
      ]);
      const scorePsi = c.length >= input.minScores && b.length >= input.minScores ? psi(b, c).value : null;
      return { candidate, baseline, scorePsi };
    },

    /** Moves the champion alias to the candidate; the previous champion stays recorded for the compensation. */
    async promoteCandidate(input: { rolloutId: number; model: string; version: number; actor: string; workflowId: string }): Promise<{ previousChampion?: number; at: string }> {
      return inTransaction(db, async (tx) => {
        const model = await findModel(tx, input.model);
        await tx.query('SELECT id FROM models WHERE id = $1 FOR UPDATE', [model.id]);
        const target = await tx.query<VersionRow>('SELECT id, status FROM model_versions WHERE model_id = $1 AND version = $2', [model.id, input.version]);
        const versionId = target.rows[0].id;
        if (!['rolling_out', 'champion'].includes(target.rows[0].status)) {
          throw ApplicationFailure.nonRetryable(`${input.model} v${input.version} is ${target.rows[0].status}, not rolling out`, 'NotRollingOut');
        }
        const current = await tx.query<{ version_id: string; version: number }>(
          `SELECT a.version_id, v.version FROM model_aliases a JOIN model_versions v ON v.id = a.version_id WHERE a.model_id = $1 AND a.alias = 'champion'`,
          [model.id],
        );
        const previous = current.rows[0];
        // The rollout enters its full phase in the same transaction: one write, one notification for the replicas.
        const full = await tx.query<{ at: Date }>("UPDATE rollouts SET phase = 'full', updated_at = now() WHERE id = $1 RETURNING updated_at AS at", [input.rolloutId]);
        const at = full.rows[0].at.toISOString();
        if (previous?.version_id === versionId) return { previousChampion: undefined, at };
        await tx.query(
          `INSERT INTO model_aliases (model_id, alias, version_id, previous_version_id) VALUES ($1, 'champion', $2, $3)
           ON CONFLICT (model_id, alias) DO UPDATE SET version_id = EXCLUDED.version_id, previous_version_id = EXCLUDED.previous_version_id, updated_at = now()`,
          [model.id, versionId, previous?.version_id ?? null],
        );
        await tx.query("UPDATE model_versions SET status = 'champion', status_reason = NULL, updated_at = now() WHERE id = $1", [versionId]);
        if (previous) await tx.query("UPDATE model_versions SET status = 'retired', updated_at = now() WHERE id = $1", [previous.version_id]);
        await tx.query(
          "INSERT INTO deployments (model_id, version_id, previous_version_id, action, actor, workflow_id) VALUES ($1, $2, $3, 'promote', $4, $5)",
          [model.id, versionId, previous?.version_id ?? null, input.actor, input.workflowId],
        );
        metrics.promotions.inc({ model: input.model });
        // Delivered on commit: replicas swap at once (they also poll).
        await tx.query('SELECT pg_notify($1, $2)', [CHAMPION_CHANNEL, JSON.stringify({ model: input.model, version: input.version })]);
        await audit(tx, { actor: input.actor, action: 'version.promote', model: input.model, version: input.version, outcome: 'ok', details: { previousChampion: previous?.version, workflowId: input.workflowId } });
        return { previousChampion: previous?.version, at };
      });
    },

    /**
     * The compensation: the champion alias goes back to the version it replaced
     * (if it had moved), the candidate leaves every replica, and why is kept on
     * the version, the rollout, the deployment history and the audit trail.
     */
    async rollBack(input: { rolloutId: number; model: string; version: number; reason: string; actor: string; workflowId: string }): Promise<{ restoredChampion?: number }> {
      return inTransaction(db, async (tx) => {
        const model = await findModel(tx, input.model);
        await tx.query('SELECT id FROM models WHERE id = $1 FOR UPDATE', [model.id]);
        const r = await tx.query<{ candidate_version_id: string; champion_version_id: string | null; phase: string }>(
          'SELECT candidate_version_id, champion_version_id, phase FROM rollouts WHERE id = $1',
          [input.rolloutId],
        );
        const { candidate_version_id: candidateId, champion_version_id: previousId, phase } = r.rows[0];
        if (phase === 'rolled_back') return {};
        let restored: number | undefined;
        const alias = await tx.query<{ version_id: string }>("SELECT version_id FROM model_aliases WHERE model_id = $1 AND alias = 'champion'", [model.id]);
        if (alias.rows[0]?.version_id === candidateId) {
          if (previousId) {
            await tx.query("UPDATE model_aliases SET version_id = $2, previous_version_id = $3, updated_at = now() WHERE model_id = $1 AND alias = 'champion'", [model.id, previousId, candidateId]);
            await tx.query("UPDATE model_versions SET status = 'champion', updated_at = now() WHERE id = $1", [previousId]);
            restored = (await tx.query<{ version: number }>('SELECT version FROM model_versions WHERE id = $1', [previousId])).rows[0].version;
          } else {
            await tx.query("DELETE FROM model_aliases WHERE model_id = $1 AND alias = 'champion'", [model.id]);
          }
          await tx.query(
            "INSERT INTO deployments (model_id, version_id, previous_version_id, action, actor, workflow_id, reason) VALUES ($1, $2, $3, 'rollback', $4, $5, $6)",
            [model.id, previousId ?? candidateId, candidateId, input.actor, input.workflowId, input.reason],
          );
        }
        await tx.query("UPDATE model_versions SET status = 'rolled_back', status_reason = $2, updated_at = now() WHERE id = $1", [candidateId, input.reason]);
        await tx.query("UPDATE rollouts SET phase = 'rolled_back', reason = $2, finished_at = now(), updated_at = now() WHERE id = $1", [input.rolloutId, input.reason]);
        await tx.query('SELECT pg_notify($1, $2)', [CHAMPION_CHANNEL, JSON.stringify({ model: input.model, event: 'rollout.rolled_back' })]);
        await audit(tx, { actor: input.actor, action: 'rollout.rollback', model: input.model, version: input.version, outcome: 'ok', details: { reason: input.reason, restoredChampion: restored, workflowId: input.workflowId } });
        metrics.rollouts.inc({ model: input.model, outcome: 'rolled_back' });
        return { restoredChampion: restored };
      });
    },

    async completeRollout(input: { rolloutId: number; model: string; version: number; workflowId: string }): Promise<void> {
      await db.query("UPDATE rollouts SET phase = 'completed', finished_at = now(), updated_at = now() WHERE id = $1", [input.rolloutId]);
      await audit(db, { actor: 'factory', action: 'rollout.complete', model: input.model, version: input.version, outcome: 'ok', details: { workflowId: input.workflowId } });
      metrics.rollouts.inc({ model: input.model, outcome: 'completed' });
    },

    /** Tells people: always the log and audit trail, and a chat webhook (Slack-compatible) where one is configured. */
    async notify(input: { model: string; version: number; text: string }): Promise<void> {
      logger.warn({ model: input.model, version: input.version }, input.text);
      if (!notifyUrl) return;
      const res = await fetch(notifyUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: input.text }), signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`notification webhook answered ${res.status}`);
    },
  };
}

export type RolloutActivities = ReturnType<typeof createRolloutActivities>;
