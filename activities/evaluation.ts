import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { metrics as prom } from '../config/metrics';
import { findModel } from '../db/models';
import { splitDataset, type Dataset } from '../ml/dataset';
import { profileInference } from '../ml/inference-bench';
import { comparePolicy, type Metrics } from '../ml/policy';
import { measure } from '../ml/measure';
import { OnnxScorer } from '../ml/scoring';
import { readSnapshot } from '../ml/snapshot';
import { renderReport, type VersionReport } from '../reports/html';
import type { ModelSpec } from '../specs/model-spec';
import type { ActivityDeps } from './deps';
import { inScratch } from './scratch';
import type { EvaluationResult, ModelVersionRef, SnapshotRef, TrainingEnergy, VersionEvaluation } from '../contracts/payloads';


/** How often a running evaluation says it is alive: its heartbeat timeout (workflows/activities.ts) is a few of these. */
const LIVENESS_MS = 5_000;

/**
 * Evaluation activities (cpu pool): candidate and champion measured the same way
 * on the same held-out rows — accuracy and calibration, latency and throughput
 * in a fresh ONNX Runtime session, group fairness, resource use, infra checks —
 * and an HTML report with both side by side, stored in S3.
 */
export function createEvaluationActivities({ db, store, workDir }: ActivityDeps) {
  async function training(modelId: number, version: number) {
    const r = await db.query<{ wall_ms: number; cpu_ms: number | null; metrics: { peakRssMb?: number | null }; energy: TrainingEnergy | null }>(
      'SELECT t.wall_ms, t.cpu_ms, t.metrics, t.energy FROM model_versions v JOIN training_runs t ON t.id = v.training_run_id WHERE v.model_id = $1 AND v.version = $2',
      [modelId, version],
    );
    return r.rows[0];
  }

  /** The held-out rows of a Parquet snapshot, read from a scratch copy. */
  function testRows(spec: ModelSpec, snapshot: SnapshotRef): Promise<Dataset> {
    return inScratch(workDir, 'evaluate-', async (dir) => {
      const file = path.join(dir, 'snapshot.parquet');
      fs.writeFileSync(file, await store.get(snapshot.artifact));
      return splitDataset(await readSnapshot(file, spec), spec.split).test;
    });
  }

  async function evaluate(spec: ModelSpec, modelId: number, ref: ModelVersionRef, test: Dataset, label: string, progress: (stage: string) => void) {
    const bytes = await store.get(ref.artifact);
    const scorer = await OnnxScorer.load(bytes, spec);
    const scores = await scorer.scoreDataset(test).finally(() => scorer.release());
    progress(`profiling ${label}`);
    const profile = await profileInference(bytes, spec, test);
    const measured = measure(spec, test, scores);
    const t = await training(modelId, ref.version);
    const metrics: Metrics = {
      ...measured.metrics,
      latencyP50Ms: profile.latencyP50Ms,
      latencyP99Ms: profile.latencyP99Ms,
      throughputRowsPerS: profile.throughputRowsPerS,
      inferenceCpuMsPer1k: profile.inferenceCpuMsPer1k,
      modelBytes: bytes.byteLength,
      trainSeconds: t ? t.wall_ms / 1000 : Number.NaN,
      trainCpuSeconds: t?.cpu_ms != null ? t.cpu_ms / 1000 : Number.NaN,
      trainPeakRssMb: t?.metrics.peakRssMb ?? Number.NaN,
    };
    const evaluation: VersionEvaluation = { version: ref.version, metrics, quality: measured.quality, fairness: measured.fairness, groupErrors: measured.groupErrors, infra: profile.infra };
    const report: VersionReport = {
      name: `${label} v${ref.version}`,
      version: ref.version,
      metrics,
      modelSha256: ref.artifact.sha256,
      infra: profile.infra,
      charts: measured.charts,
      fairness: measured.fairness,
      groupErrors: measured.groupErrors,
      energy: t?.energy ?? null,
    };
    return { evaluation, report };
  }

  return {
    async evaluateCandidate(input: { model: string; snapshot: SnapshotRef; candidate: ModelVersionRef; champion?: ModelVersionRef }): Promise<EvaluationResult> {
      // A heartbeat every few seconds whatever the stage, so a worker that dies is noticed within the heartbeat timeout.
      const ctx = Context.current();
      let stage: Record<string, unknown> = { stage: 'reading the held-out rows' };
      const progress = (now: string, more: Record<string, unknown> = {}) => ctx.heartbeat((stage = { stage: now, ...more }));
      const liveness = setInterval(() => ctx.heartbeat(stage), LIVENESS_MS);
      try {
        return await measureCandidate(input, progress);
      } finally {
        clearInterval(liveness);
      }
    },
  };

  /** Candidate and champion on the snapshot's held-out rows, the report, and the evaluation row (one per version and snapshot, however often retried). */
  async function measureCandidate(input: { model: string; snapshot: SnapshotRef; candidate: ModelVersionRef; champion?: ModelVersionRef }, progress: (stage: string, more?: Record<string, unknown>) => void): Promise<EvaluationResult> {
    const { id: modelId, spec } = await findModel(db, input.model);
    const test = await testRows(spec, input.snapshot);
    progress('evaluating candidate', { rows: test.rows });
    const candidate = await evaluate(spec, modelId, input.candidate, test, 'candidate', progress);
    const champion = input.champion ? await evaluate(spec, modelId, input.champion, test, 'champion', progress) : undefined;
    // The same pure comparison the pipeline makes, so the report shows the verdict the pipeline acts on.
    const verdict = comparePolicy(spec.policy, candidate.evaluation.metrics, champion?.evaluation.metrics, candidate.evaluation.infra);
    const html = await renderReport({
      model: input.model,
      snapshotSha256: input.snapshot.artifact.sha256,
      testRows: test.rows,
      threshold: spec.policy.threshold,
      candidate: candidate.report,
      champion: champion?.report,
      verdict,
      generatedAt: new Date().toISOString(),
    });
    const report = await store.put('reports', html, '.html', 'text/html; charset=utf-8');
    const ids = await db.query<{ id: string; version: number }>('SELECT id, version FROM model_versions WHERE model_id = $1 AND version = ANY($2)', [
      modelId,
      [input.candidate.version, input.champion?.version ?? -1],
    ]);
    const idOf = (v?: number) => ids.rows.find((r) => r.version === v)?.id ?? null;
    const res = await db.query<{ id: string }>(
      `INSERT INTO evaluations (model_version_id, snapshot_id, champion_version_id, metrics, champion_metrics, report_key, report_sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (model_version_id, snapshot_id, (COALESCE(champion_version_id, 0))) DO UPDATE SET metrics = EXCLUDED.metrics, champion_metrics = EXCLUDED.champion_metrics,
         report_key = EXCLUDED.report_key, report_sha256 = EXCLUDED.report_sha256
       RETURNING id`,
      [idOf(input.candidate.version), input.snapshot.snapshotId, idOf(input.champion?.version), JSON.stringify(candidate.evaluation), champion ? JSON.stringify(champion.evaluation) : null, report.key, report.sha256],
    );
    for (const m of ['auc', 'logLoss', 'accuracy', 'latencyP99Ms'] as const) prom.candidateMetric.set({ model: input.model, metric: m }, candidate.evaluation.metrics[m] ?? Number.NaN);
    return { evaluationId: Number(res.rows[0].id), candidate: candidate.evaluation, champion: champion?.evaluation, report };
  }
}

export type EvaluationActivities = ReturnType<typeof createEvaluationActivities>;
