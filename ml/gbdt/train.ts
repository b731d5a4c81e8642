import type { z } from 'zod';
import type { gbdtSchema } from '../../specs/model-spec';
import type { Dataset } from '../dataset';
import { prng } from '../random';
import type { TrainProgress } from '../trainer';
import { applyBins, fitEdges } from './binning';
import { TreeGrower } from './grow';
import { scoreBinnedRow, scoreRow, type Tree } from './tree';

export type GbdtParams = z.infer<typeof gbdtSchema>;

export interface GbdtModel {
  trees: Tree[];
  baseScore: number;
  bestIteration: number;
  validationLoss: number[];
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));


function logLossOf(y: Uint8Array, raw: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const z = raw[i];
    s += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i] * z;
  }
  return s / y.length;
}

/**
 * Histogram gradient boosting for binary log loss: binned features, best-first
 * trees under depth and leaf limits, L2 on leaves, min child weight, seeded row
 * and column subsampling, early stopping on the validation split. Deterministic
 * for a given seed.
 */
/** Training state after some trees: enough to carry on exactly where it stopped. */
export interface GbdtCheckpoint {
  trees: Tree[];
  baseScore: number;
  validationLoss: number[];
}

export interface FitOptions {
  onProgress?: (p: TrainProgress) => void;
  resume?: GbdtCheckpoint;
  checkpointEvery?: number;
  onCheckpoint?: (c: GbdtCheckpoint) => void;
}

export function fitGbdt(train: Dataset, validation: Dataset, p: GbdtParams, options: FitOptions = {}): GbdtModel {
  const onProgress = options.onProgress ?? (() => undefined);
  const edges = fitEdges(train, p.maxBins);
  const bins = applyBins(train, edges);
  const vbins = applyBins(validation, edges);
  const F = train.features;
  let positives = 0;
  for (let i = 0; i < train.rows; i++) positives += train.y[i];
  const prior = Math.min(Math.max(positives / train.rows, 1e-6), 1 - 1e-6);
  const baseScore = Math.fround(Math.log(prior / (1 - prior)));
  const raw = new Float64Array(train.rows).fill(baseScore);
  const vraw = new Float64Array(validation.rows).fill(baseScore);
  const grad = new Float64Array(train.rows);
  const hess = new Float64Array(train.rows);
  const grower = new TreeGrower(bins, {
    maxDepth: p.maxDepth,
    maxLeaves: p.maxLeaves ?? 2 ** p.maxDepth,
    lambda: p.lambda,
    minChildWeight: p.minChildWeight,
    minSplitGain: p.minSplitGain,
    learningRate: p.learningRate,
  });
  const allRows = Uint32Array.from({ length: train.rows }, (_, i) => i);
  const trees: Tree[] = [];
  const validationLoss: number[] = [];
  let best = { loss: Number.POSITIVE_INFINITY, iteration: 0 };
  if (options.resume) {
    // Binning is a pure function of the training data, so the checkpoint's trees score the same rows the same way.
    for (const tree of options.resume.trees) {
      trees.push(tree);
      for (let i = 0; i < train.rows; i++) raw[i] += scoreBinnedRow(tree, bins.codes, i * F);
      for (let i = 0; i < validation.rows; i++) vraw[i] += scoreBinnedRow(tree, vbins.codes, i * F);
    }
    options.resume.validationLoss.forEach((loss, i) => {
      validationLoss.push(loss);
      if (loss < best.loss - 1e-12) best = { loss, iteration: i + 1 };
    });
    if (validation.rows === 0) best = { loss: Number.NaN, iteration: trees.length };
  }
  for (let t = trees.length; t < p.trees; t++) {
    // Each tree's sampling depends only on the seed and its index, so a resumed run equals an uninterrupted one.
    const random = prng(p.seed * 1_000_003 + t);
    for (let i = 0; i < train.rows; i++) {
      const pr = sigmoid(raw[i]);
      grad[i] = pr - train.y[i];
      hess[i] = Math.max(pr * (1 - pr), 1e-16);
    }
    let rows = allRows;
    if (p.subsample < 1) rows = allRows.filter(() => random() < p.subsample);
    let features = Int32Array.from({ length: F }, (_, i) => i);
    if (p.colsample < 1) {
      const keep = Math.max(1, Math.round(F * p.colsample));
      const shuffled = Array.from(features);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      features = Int32Array.from(shuffled.slice(0, keep).sort((a, b) => a - b));
    }
    const tree = grower.grow(rows, grad, hess, features, (value, leafRows) => {
      for (let k = 0; k < leafRows.length; k++) raw[leafRows[k]] += value;
    });
    trees.push(tree);
    if (rows !== allRows) {
      // Rows left out of this tree's sample still need its output.
      const sampled = new Uint8Array(train.rows);
      for (let k = 0; k < rows.length; k++) sampled[rows[k]] = 1;
      for (let i = 0; i < train.rows; i++) if (!sampled[i]) raw[i] += scoreBinnedRow(tree, bins.codes, i * F);
    }
    if (validation.rows > 0) {
      for (let i = 0; i < validation.rows; i++) vraw[i] += scoreBinnedRow(tree, vbins.codes, i * F);
      const loss = logLossOf(validation.y, vraw);
      validationLoss.push(loss);
      if (loss < best.loss - 1e-12) best = { loss, iteration: t + 1 };
      if (p.earlyStoppingRounds && t + 1 - best.iteration >= p.earlyStoppingRounds) break;
    } else best = { loss: Number.NaN, iteration: t + 1 };
    if ((t + 1) % 10 === 0 || t + 1 === p.trees) {
      onProgress({ step: t + 1, total: p.trees, message: `tree ${t + 1}/${p.trees}`, metrics: { validationLogLoss: validationLoss[t] ?? Number.NaN } });
    }
    if (options.onCheckpoint && options.checkpointEvery && (t + 1) % options.checkpointEvery === 0 && t + 1 < p.trees) {
      options.onCheckpoint({ trees: trees.slice(), baseScore, validationLoss: validationLoss.slice() });
    }
  }
  // Without early stopping every tree is kept; with it, the trees after the best validation loss are dropped.
  const kept = p.earlyStoppingRounds > 0 ? best.iteration : trees.length;
  return { trees: trees.slice(0, kept), baseScore, bestIteration: best.iteration, validationLoss };
}

/** The trainer's own scores, computed as ONNX Runtime computes them: float32 comparisons, one base value. */
export function predictGbdt(m: GbdtModel, d: Dataset): Float64Array {
  const out = new Float64Array(d.rows);
  for (let r = 0; r < d.rows; r++) {
    let z = m.baseScore;
    for (const t of m.trees) z += scoreRow(t, d.x, r * d.features);
    out[r] = sigmoid(z);
  }
  return out;
}
