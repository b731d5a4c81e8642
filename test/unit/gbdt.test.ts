import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { toDataset, type Dataset } from '../../ml/dataset';
import { decodeCheckpoint, encodeCheckpoint } from '../../ml/gbdt/checkpoint';
import { gbdtToOnnx } from '../../ml/gbdt/onnx';
import { fitGbdt, predictGbdt, type GbdtModel } from '../../ml/gbdt/train';
import { auc } from '../../ml/metrics';
import { OnnxScorer } from '../../ml/scoring';
import { splitRows } from '../../ml/split';
import { validateBatch } from '../../specs/data-batch';
import { gbdtSchema, parseModelSpec } from '../../specs/model-spec';

const ROOT = path.resolve(__dirname, '../../..');
const spec = parseModelSpec(parse(fs.readFileSync(path.join(ROOT, 'models/credit-default.yaml'), 'utf8')));
const { rows } = validateBatch(spec, creditDefaultText(loadEnv()));
const parts = splitRows(rows, spec.split);
const train = toDataset(parts.train, spec);
const validation = toDataset(parts.validation, spec);
const held = toDataset(parts.test, spec);
const params = (p: Record<string, unknown> = {}) => gbdtSchema.parse({ kind: 'gbdt', trees: 60, ...p });

async function onnxScores(m: GbdtModel, d: Dataset): Promise<Float32Array> {
  const scorer = await OnnxScorer.load(gbdtToOnnx(m, spec.features, 'test'), spec);
  const out = Float32Array.from(await scorer.scoreDataset(d));
  await scorer.release();
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('gradient-boosted trees', () => {
  const model = fitGbdt(train, validation, params({ earlyStoppingRounds: 0 }));

  test('ONNX Runtime (TreeEnsembleRegressor + Sigmoid) equals the TypeScript model on every test row within 1e-5', async () => {
    const onnx = await onnxScores(model, held);
    expect(held.rows).toBeGreaterThan(5_000);
    expect(maxDiff(onnx, predictGbdt(model, held))).toBeLessThan(1e-5);
    // The published XGBoost range on this data is about 0.76-0.78.
    expect(auc(held.y, onnx)).toBeGreaterThan(0.76);
  });

  test('is deterministic for a seed, subsampling included, and the seed matters', () => {
    const p = params({ trees: 15, subsample: 0.7, colsample: 0.6, seed: 3 });
    const a = predictGbdt(fitGbdt(train, validation, p), held);
    const b = predictGbdt(fitGbdt(train, validation, p), held);
    const c = predictGbdt(fitGbdt(train, validation, { ...p, seed: 4 }), held);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(maxDiff(a, c)).toBeGreaterThan(1e-4);
  });

  // Each thread finds the best splits of its own group of features, so a thread that did not run would change the trees.
  test('is the same model, byte for byte, grown with any number of threads: category sets and sampling included', () => {
    const categorical = spec.features.map((f) => f.type === 'category');
    expect(categorical.some(Boolean)).toBe(true);
    const onnx = (p: Record<string, unknown>) => Buffer.from(gbdtToOnnx(fitGbdt(train, validation, params({ trees: 20, ...p }), { categorical }), spec.features, 'test'));
    for (const sampled of [{}, { subsample: 0.8, colsample: 0.6 }]) {
      const one = onnx(sampled);
      expect(onnx({ ...sampled, threads: 2 }).equals(one)).toBe(true);
      expect(onnx({ ...sampled, threads: 3 }).equals(one)).toBe(true);
    }
    expect(() => params({ threads: 0 })).toThrow();
    expect(() => params({ threads: 17 })).toThrow();
  });

  test('routes missing values by a learned default direction, identically in ONNX', async () => {
    // Hide PAY_0 (the strongest feature) for a third of the rows, more often for defaulters.
    const withGaps = (d: Dataset): Dataset => {
      const x = d.x.slice();
      for (let r = 0; r < d.rows; r++) if ((r * 7919) % 3 === 0 || (d.y[r] === 1 && r % 2 === 0)) x[r * d.features + 5] = Number.NaN;
      return { ...d, x };
    };
    const m = fitGbdt(withGaps(train), withGaps(validation), params({ trees: 30, earlyStoppingRounds: 0 }));
    const missingSplits = m.trees.flatMap((t) => Array.from(t.feature).map((f, n) => (f === 5 ? t.missingLeft[n] : -1))).filter((v) => v >= 0);
    expect(new Set(missingSplits).size).toBeGreaterThan(0);
    const gappy = withGaps(held);
    expect(maxDiff(await onnxScores(m, gappy), predictGbdt(m, gappy))).toBeLessThan(1e-5);
  });

  test('a run resumed from a checkpoint equals an uninterrupted one', () => {
    const p = params({ trees: 40, subsample: 0.8, colsample: 0.7, earlyStoppingRounds: 0 });
    const straight = fitGbdt(train, validation, p);
    let saved: string | undefined;
    fitGbdt(train, validation, { ...p, trees: 40 }, { checkpointEvery: 15, onCheckpoint: (c) => (saved ??= encodeCheckpoint(c)) });
    const resumed = fitGbdt(train, validation, p, { resume: decodeCheckpoint(saved!) });
    expect(decodeCheckpoint(saved!).trees).toHaveLength(15);
    expect(Array.from(predictGbdt(resumed, held))).toEqual(Array.from(predictGbdt(straight, held)));
  });

  test('early stopping keeps the trees up to the best validation loss', () => {
    const m = fitGbdt(train, validation, params({ trees: 400, learningRate: 0.5, earlyStoppingRounds: 5 }));
    expect(m.trees.length).toBe(m.bestIteration);
    expect(m.validationLoss.length).toBe(m.bestIteration + 5);
    expect(Math.min(...m.validationLoss)).toBe(m.validationLoss[m.bestIteration - 1]);
  });

  test('depth and leaf limits hold for every tree', () => {
    const leafLimited = fitGbdt(train, validation, params({ trees: 10, maxDepth: 10, maxLeaves: 8, earlyStoppingRounds: 0 }));
    for (const t of leafLimited.trees) expect(Array.from(t.feature).filter((f) => f < 0).length).toBeLessThanOrEqual(8);
    const depthLimited = fitGbdt(train, validation, params({ trees: 10, maxDepth: 2, earlyStoppingRounds: 0 }));
    for (const t of depthLimited.trees) expect(t.feature.length).toBeLessThanOrEqual(7);
  });

  test('thresholds and leaf values are float32 and there is exactly one base value', () => {
    for (const t of model.trees) {
      for (let n = 0; n < t.feature.length; n++) {
        expect(Math.fround(t.value[n])).toBe(t.value[n]);
        if (t.feature[n] >= 0) expect(Math.fround(t.threshold[n])).toBe(t.threshold[n]);
      }
    }
    for (const b of model.baseScores) expect(Math.fround(b)).toBe(b);
  });
});
