import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { toDataset } from '../../ml/dataset';
import { fitLogistic, logisticToOnnx, predictLogistic } from '../../ml/logistic-regression';
import { auc } from '../../ml/metrics';
import { OnnxScorer } from '../../ml/scoring';
import { splitRows } from '../../ml/split';
import { runTrainer } from '../../ml/trainers';
import { validateBatch } from '../../specs/data-batch';
import { logisticRegressionSchema, parseModelSpec } from '../../specs/model-spec';

const ROOT = path.resolve(__dirname, '../../..');
const spec = parseModelSpec(parse(fs.readFileSync(path.join(ROOT, 'models/credit-default.yaml'), 'utf8')));
const lr = logisticRegressionSchema.parse({ kind: 'logistic-regression' });
const csv = creditDefaultText(loadEnv());

describe('logistic regression trainer', () => {
  const { rows, errors } = validateBatch(spec, csv);
  const parts = splitRows(rows, spec.split);
  const train = toDataset(parts.train, spec);
  const held = toDataset(parts.test, spec);

  test('the shipped data validates cleanly', () => {
    expect(errors).toEqual([]);
    expect(rows).toHaveLength(30_000);
  });

  test('ONNX Runtime reproduces the TypeScript model on every test row within 1e-5', async () => {
    const model = runTrainer({ spec, params: lr, train, validation: toDataset(parts.validation, spec), onProgress: () => undefined });
    const reference = model.predict(held);
    const scorer = await OnnxScorer.load(model.onnx, spec);
    const onnx = await scorer.scoreDataset(held);
    await scorer.release();
    let worst = 0;
    for (let i = 0; i < held.rows; i++) worst = Math.max(worst, Math.abs(onnx[i] - reference[i]));
    expect(held.rows).toBeGreaterThan(5_000);
    expect(worst).toBeLessThan(1e-5);
    // The published range for logistic regression on this data is about 0.72-0.76.
    expect(auc(held.y, onnx)).toBeGreaterThan(0.7);
    expect(model.metrics.validationLogLoss).toBeLessThan(0.5);
  });

  test('is deterministic and converges: the same data gives the same weights', () => {
    const a = fitLogistic(train, lr);
    const b = fitLogistic(train, lr);
    expect(Array.from(a.model.weights)).toEqual(Array.from(b.model.weights));
    expect(a.iterations).toBeLessThan(lr.maxIterations);
  });

  test('stronger L2 shrinks the weights', () => {
    const loose = fitLogistic(train, { ...lr, l2: 0 });
    const tight = fitLogistic(train, { ...lr, l2: 10_000 });
    const norm = (w: Float32Array) => Math.hypot(...w);
    expect(norm(tight.model.weights)).toBeLessThan(norm(loose.model.weights));
  });

  test('a separable toy problem scores the right side in both implementations', async () => {
    const x = [[0, 1], [1, 0.5], [2, 0], [10, 1], [11, 0.5], [12, 0]];
    const toy = { features: [{ name: 'a', type: 'number' as const }, { name: 'b', type: 'number' as const }] };
    const d = toDataset(x.map((features, i) => ({ id: String(i), features, label: i < 3 ? 0 : 1 })), toy);
    const { model } = fitLogistic(d, { kind: 'logistic-regression', l2: 1, maxIterations: 50, tolerance: 1e-10 });
    const ts = predictLogistic(model, d);
    const scorer = await OnnxScorer.load(logisticToOnnx(model, toy.features, 'toy'), toy);
    const onnx = await scorer.score(Float32Array.from(d.x), d.rows);
    await scorer.release();
    for (let i = 0; i < 6; i++) {
      expect(ts[i] > 0.5).toBe(i >= 3);
      expect(Math.abs(onnx[i] - ts[i])).toBeLessThan(1e-6);
    }
  });
});
