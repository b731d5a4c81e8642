import { Context } from '@temporalio/activity';
import { metrics } from '../config/metrics';
import { findModel } from '../db/models';
import { toDataset, type Dataset } from '../ml/dataset';
import { classificationMetrics, type ClassificationMetrics } from '../ml/metrics';
import { OnnxScorer } from '../ml/scoring';
import { splitRows } from '../ml/split';
import { fromCanonicalCsv } from '../specs/data-batch';
import type { ActivityDeps } from './deps';
import type { EvaluationResult, ModelVersionRef, SnapshotRef } from './types';

/** Evaluation activities (cpu pool): candidate and champion scored by ONNX Runtime on the same held-out rows. */
export function createEvaluationActivities({ db, store }: ActivityDeps) {
  async function score(ref: ModelVersionRef, test: Dataset, threshold: number): Promise<ClassificationMetrics> {
    const scorer = await OnnxScorer.load(await store.get(ref.artifact), test.features);
    try {
      return classificationMetrics(test.y, await scorer.scoreDataset(test), threshold);
    } finally {
      await scorer.release();
    }
  }

  return {
    async evaluateCandidate(input: {
      model: string;
      snapshot: SnapshotRef;
      candidate: ModelVersionRef;
      champion?: ModelVersionRef;
    }): Promise<EvaluationResult> {
      const { id: modelId, spec } = await findModel(db, input.model);
      const rows = fromCanonicalCsv(await store.getText(input.snapshot.artifact));
      const test = toDataset(splitRows(rows, spec.split).test, spec.features.length);
      Context.current().heartbeat({ stage: 'scoring candidate', rows: test.rows });
      const candidate = await score(input.candidate, test, spec.policy.threshold);
      Context.current().heartbeat({ stage: 'scoring champion' });
      const champion = input.champion
        ? { version: input.champion.version, ...(await score(input.champion, test, spec.policy.threshold)) }
        : undefined;
      const report = await store.put(
        'reports',
        JSON.stringify({ model: input.model, snapshot: input.snapshot, candidate: { version: input.candidate.version, metrics: candidate }, champion }, null, 2),
        '.json',
        'application/json',
      );
      const ids = await db.query<{ id: string; version: number }>(
        'SELECT id, version FROM model_versions WHERE model_id = $1 AND version = ANY($2)',
        [modelId, [input.candidate.version, input.champion?.version ?? -1]],
      );
      const idOf = (v?: number) => ids.rows.find((r) => r.version === v)?.id ?? null;
      const res = await db.query<{ id: string }>(
        `INSERT INTO evaluations (model_version_id, snapshot_id, champion_version_id, metrics, champion_metrics, report_key, report_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model_version_id, snapshot_id) DO UPDATE SET metrics = EXCLUDED.metrics, champion_metrics = EXCLUDED.champion_metrics,
           report_key = EXCLUDED.report_key, report_sha256 = EXCLUDED.report_sha256
         RETURNING id`,
        [idOf(input.candidate.version), input.snapshot.snapshotId, idOf(input.champion?.version), JSON.stringify(candidate), champion ? JSON.stringify(champion) : null, report.key, report.sha256],
      );
      for (const m of ['auc', 'logLoss', 'accuracy'] as const) metrics.candidateMetric.set({ model: input.model, metric: m }, candidate[m]);
      return { evaluationId: Number(res.rows[0].id), candidate, champion, report };
    },
  };
}

export type EvaluationActivities = ReturnType<typeof createEvaluationActivities>;
