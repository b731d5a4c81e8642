import { ApplicationFailure, Context } from '@temporalio/activity';
import { logger } from '../config/logger';
import { metrics } from '../config/metrics';
import { findModel } from '../db/models';
import { inTransaction } from '../db/pool';
import { countSlower, readWindow } from '../db/prediction-windows';
import { complete, findVersion, lockModel, openRollout, promote, rollBack, RolloutRefused, setPhase } from '../db/rollouts';
import { psi } from '../ml/drift';
import { DirectoryError, resolveApprovers } from '../people/directory';
import { checkInfra } from '../ml/infra-check';
import { latencyLimitMs, type GuardStats } from '../ml/rollout-guard';
import type { RolloutGuard, RolloutPolicy } from '../specs/model-spec';
import { refOf } from '../storage/artifacts';
import type { ActivityDeps } from './deps';
import type { LogWindow, ReplicaExpectation, ReplicaReport, RolloutPhase } from '../contracts/payloads';

/** A refusal from the rollout's state is final: retrying cannot make it true. */
const refused = (err: unknown) => {
  if (err instanceof RolloutRefused) throw ApplicationFailure.nonRetryable(err.message, err.type);
  throw err;
};

/**
 * Rollout activities (control pool). The rollout workflow decides; these write
 * the rollout's state where serving replicas read it (db/rollouts.ts), check
 * the candidate (ml/infra-check.ts), wait for the replicas, and read the
 * prediction log for the guard (db/prediction-windows.ts).
 */
export function createRolloutActivities({ db, store, approvalKeys }: ActivityDeps) {
  return {
    /** Opens the rollout record (once per workflow: a retry finds its own row) and says what it starts from. */
    async beginRollout(input: { model: string; version: number; workflowId: string; actor: string }) {
      return inTransaction(db, async (tx) => {
        const model = await findModel(tx, input.model);
        const candidate = await findVersion(tx, model.id, input.version);
        if (!candidate) throw ApplicationFailure.nonRetryable(`${input.model} has no version ${input.version}`, 'UnknownVersion');
        const { rolloutId, championVersion } = await openRollout(tx, model, candidate, input.workflowId, input.actor).catch(refused);
        return {
          rolloutId,
          policy: model.spec.rollout as RolloutPolicy,
          championVersion,
          /** Who may pause, resume or abort: the model's approvers, as the directory names them now. */
          operators: await resolveApprovers(tx, model.spec.approval.approvers).catch((err) => {
            // An approver missing from the directory must not stop an approved rollout: the guard still watches it.
            if (!(err instanceof DirectoryError)) throw err;
            logger.warn({ model: input.model, error: err.message }, 'rollout operators unresolved: nobody can steer this rollout');
            return [] as string[];
          }),
          /** The approvals service's keys, which sign every steering action. */
          publicKeys: approvalKeys(),
        };
      });
    },

    /** The serving-side infra check: the candidate's bytes verify against their sha256, load in ONNX Runtime and score canary rows to probabilities. */
    async checkCandidate(input: { model: string; version: number }): Promise<{ loadMs: number }> {
      const model = await findModel(db, input.model);
      const row = await db.query<{ artifact_key: string; artifact_sha256: string; artifact_bytes: string }>('SELECT artifact_key, artifact_sha256, artifact_bytes FROM model_versions WHERE model_id = $1 AND version = $2', [model.id, input.version]);
      const started = performance.now();
      const bytes = await store.get(refOf(row.rows[0]));
      // One row per feature at its maximum, the others at their minimum: the corners of the declared ranges.
      const { features } = model.spec;
      const canaries = new Float32Array(features.length * features.length);
      features.forEach((_, i) => features.forEach((f, j) => (canaries[i * features.length + j] = i === j ? (f.max ?? 1) : (f.min ?? 0))));
      const infra = await checkInfra(bytes, model.spec, canaries);
      if (!infra.passed) throw ApplicationFailure.nonRetryable(`v${input.version}: ${infra.reason}`, 'InfraCheck');
      await infra.scorer.release();
      return { loadMs: performance.now() - started };
    },

    /** Moves the rollout to a phase (and traffic split) and tells the replicas; returns the database's time, the start of the phase's window. */
    async setRolloutPhase(input: { rolloutId: number; model: string; phase: RolloutPhase; canaryPercent?: number; paused?: boolean }): Promise<{ at: string }> {
      return setPhase(db, input);
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
     * With the guard, both windows also count their requests slower than the
     * latency limit that the baseline's p99 sets (an activity scheduled before
     * the guard was passed counts none).
     */
    async readGuardStats(input: { model: string; candidate: LogWindow; baseline: LogWindow; paired: boolean; minScores: number; guard?: RolloutGuard }): Promise<GuardStats> {
      const pairedWith = input.paired ? input.candidate : undefined;
      const { scores: b, ...baseline } = await readWindow(db, input.model, input.baseline, { pairedWith });
      const limit = input.guard && latencyLimitMs(input.guard, baseline.p99Ms);
      const [{ scores: c, ...candidate }, slow] = await Promise.all([
        readWindow(db, input.model, input.candidate, { slowerThanMs: limit }),
        limit === undefined ? undefined : countSlower(db, input.model, input.baseline, limit, pairedWith),
      ]);
      const scorePsi = c.length >= input.minScores && b.length >= input.minScores ? psi(b, c).value : null;
      return { candidate, baseline: slow === undefined ? baseline : { ...baseline, slow }, scorePsi };
    },

    /** Moves the champion alias to the candidate; the previous champion stays recorded for the compensation. */
    async promoteCandidate(input: { rolloutId: number; model: string; version: number; actor: string; workflowId: string }): Promise<{ previousChampion?: number; at: string }> {
      return inTransaction(db, async (tx) => {
        const model = await findModel(tx, input.model);
        await lockModel(tx, model.id);
        const target = (await findVersion(tx, model.id, input.version))!;
        const { moved, previousChampion, at } = await promote(tx, model, input.rolloutId, target, input.actor, input.workflowId).catch(refused);
        if (moved) metrics.promotions.inc({ model: input.model });
        return { previousChampion, at };
      });
    },

    async rollBack(input: { rolloutId: number; model: string; version: number; reason: string; actor: string; workflowId: string }): Promise<{ restoredChampion?: number }> {
      return inTransaction(db, async (tx) => {
        const model = await findModel(tx, input.model);
        await lockModel(tx, model.id);
        const done = await rollBack(tx, model, input.rolloutId, input.version, input.reason, input.actor, input.workflowId);
        if (!done) return {};
        metrics.rollouts.inc({ model: input.model, outcome: 'rolled_back' });
        return done;
      });
    },

    async completeRollout(input: { rolloutId: number; model: string; version: number; workflowId: string }): Promise<void> {
      await complete(db, input);
      metrics.rollouts.inc({ model: input.model, outcome: 'completed' });
    },
  };
}

export type RolloutActivities = ReturnType<typeof createRolloutActivities>;
