import { creditDefaultText } from '../../../data/credit-default';
import { upsertModel } from '../../../db/models';
import { toDataset } from '../../../ml/dataset';
import { splitRows } from '../../../ml/split';
import { runTrainer } from '../../../ml/trainers';
import { validateBatch } from '../../../specs/data-batch';
import type { ModelSpec } from '../../../specs/model-spec';
import type { ArtifactRef } from '../../../storage/artifacts';
import type { StackFixture } from './stack-fixture';

/**
 * Registers spec's model with candidate versions that are cheap to add: four
 * GBDTs are trained once here (the champion, then three with other seeds and
 * row and column subsampling), stored in S3, and every version registered is
 * an approved one that reuses the next of them, so every swap loads a new
 * session without a training pipeline per version.
 */
export async function seedRegistry(fixture: Pick<StackFixture, 'env' | 'db' | 'store' | 'step'>, spec: ModelSpec) {
  const { db, store } = fixture;
  const { id: modelId } = await upsertModel(db, spec, 'bench');

  fixture.step('training the champion and three candidates (GBDT)');
  const csv = creditDefaultText(fixture.env);
  const { rows } = validateBatch(spec, csv);
  const split = splitRows(rows, spec.split);
  const train = toDataset(split.train, spec);
  const validation = toDataset(split.validation, spec);
  if (spec.trainer.kind !== 'gbdt') throw new Error('the benchmark expects the shipped GBDT trainer');
  const trained = [spec.trainer, ...[11, 12, 13].map((seed) => ({ ...spec.trainer, seed, subsample: 0.8, colsample: 0.8 }))].map((params) =>
    runTrainer({ spec, params, train, validation, onProgress: () => undefined }),
  );
  const artifacts: ArtifactRef[] = [];
  for (const t of trained) artifacts.push(await store.put('models', t.onnx, '.onnx'));
  const snapshot = await store.put('snapshots', JSON.stringify(split.train), '.json');
  const snapshotId = (
    await db.query<{ id: string }>(
      `INSERT INTO dataset_snapshots (model_id, artifact_key, artifact_sha256, artifact_bytes, row_count, positives, batch_ids, split)
       VALUES ($1, $2, $3, $4, $5, $6, '{}', $7) RETURNING id`,
      [modelId, snapshot.key, snapshot.sha256, snapshot.bytes, split.train.length, split.train.filter((r) => r.label === 1).length, JSON.stringify(spec.split)],
    )
  ).rows[0].id;

  /** Registers version v as approved, pointing at an artifact trained above: v1 the champion, then the candidates in turn. */
  const register = async (version: number) => {
    const a = version === 1 ? artifacts[0] : artifacts[1 + ((version - 2) % 3)];
    const workflowId = `bench-serving-v${version}`;
    const run = await db.query<{ id: string }>(
      `INSERT INTO training_runs (model_id, snapshot_id, workflow_id, trigger, trainer, artifact_key, artifact_sha256, artifact_bytes, metrics, wall_ms, cpu_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}', 0, NULL) RETURNING id`,
      [modelId, snapshotId, workflowId, JSON.stringify({ reason: 'manual', requestedBy: 'bench' }), JSON.stringify(spec.trainer), a.key, a.sha256, a.bytes],
    );
    await db.query(
      `INSERT INTO model_versions (model_id, version, training_run_id, snapshot_id, artifact_key, artifact_sha256, artifact_bytes, status, workflow_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'approved', $8)`,
      [modelId, version, run.rows[0].id, snapshotId, a.key, a.sha256, a.bytes, workflowId],
    );
  };
  return { modelId, champion: trained[0], split, register };
}
