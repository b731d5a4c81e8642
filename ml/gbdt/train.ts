import type { z } from 'zod';
import type { gbdtSchema } from '../../specs/model-spec';
import type { Dataset } from '../dataset';
import { prng } from '../random';
import type { TrainProgress } from '../trainer';
import { applyBins, fitEdges } from './binning';
import { TreeGrower } from './grow';
import { logistic, objectiveNamed, type Objective } from './objectives';
import { scoreBinnedRow, scoreRow, type Tree } from './tree';

export type GbdtParams = z.infer<typeof gbdtSchema>;

export interface GbdtModel {
  /** Round by round, one tree per output: tree t adds to output t % outputs. */
  trees: Tree[];
  /** Per output: the raw score every row starts from. */
  baseScores: number[];
  objective: Objective['name'];
  /** Rounds kept: the best validation loss's, or every round without early stopping. */
  bestIteration: number;
  validationLoss: number[];
}

/** Training state after some rounds: enough to carry on exactly where it stopped. */
export interface GbdtCheckpoint {
  trees: Tree[];
  baseScores: number[];
  validationLoss: number[];
}

export interface FitOptions {
  /** Binary log loss unless given (objectiveOf in ml/gbdt/objectives.ts picks the spec's). */
  objective?: Objective;
  /** Features to split by sets of values (the spec's categories); one with more than maxBins values is binned as a number. */
  categorical?: boolean[];
  onProgress?: (p: TrainProgress) => void;
  resume?: GbdtCheckpoint;
  checkpointEvery?: number;
  onCheckpoint?: (c: GbdtCheckpoint) => void;
}

/**
 * Histogram gradient boosting for any objective (ml/gbdt/objectives.ts):
 * binned features, best-first trees under depth and leaf limits, L2 on leaves,
 * min child weight, seeded row and column subsampling (the same sample for
 * every output's tree of a round), early stopping on the validation split's
 * loss. Deterministic for a given seed.
 */
export function fitGbdt(train: Dataset, validation: Dataset, p: GbdtParams, options: FitOptions = {}): GbdtModel {
  const objective = options.objective ?? logistic;
  const onProgress = options.onProgress ?? (() => undefined);
  const edges = fitEdges(train, p.maxBins, options.categorical);
  const categorical = edges.map((e, f) => options.categorical?.[f] === true && Number.isFinite(e[e.length - 1]));
  const bins = applyBins(train, edges);
  const vbins = applyBins(validation, edges);
  const F = train.features;
  const K = objective.outputs;
  const N = train.rows;
  const baseScores = options.resume?.baseScores ?? objective.base(train.y);
  const raw = new Float64Array(N * K);
  const vraw = new Float64Array(validation.rows * K);
  for (let i = 0; i < raw.length; i++) raw[i] = baseScores[i % K];
  for (let i = 0; i < vraw.length; i++) vraw[i] = baseScores[i % K];
  const grad = new Float64Array(N * K);
  const hess = new Float64Array(N * K);
  const grower = new TreeGrower(bins, {
    maxDepth: p.maxDepth,
    maxLeaves: p.maxLeaves ?? 2 ** p.maxDepth,
    lambda: p.lambda,
    minChildWeight: p.minChildWeight,
    minSplitGain: p.minSplitGain,
    learningRate: p.learningRate,
    categorical,
    threads: p.threads,
  });
  try {
    const allRows = Uint32Array.from({ length: N }, (_, i) => i);
    const trees: Tree[] = [];
    const validationLoss: number[] = [];
    let best = { loss: Number.POSITIVE_INFINITY, iteration: 0 };
    if (options.resume) {
      // Binning is a pure function of the training data, so the checkpoint's trees score the same rows the same way.
      options.resume.trees.forEach((tree, t) => {
        trees.push(tree);
        const k = t % K;
        for (let i = 0; i < N; i++) raw[i * K + k] += scoreBinnedRow(tree, bins.codes, i * F);
        for (let i = 0; i < validation.rows; i++) vraw[i * K + k] += scoreBinnedRow(tree, vbins.codes, i * F);
      });
      options.resume.validationLoss.forEach((loss, i) => {
        validationLoss.push(loss);
        if (loss < best.loss - 1e-12) best = { loss, iteration: i + 1 };
      });
      if (validation.rows === 0) best = { loss: Number.NaN, iteration: trees.length / K };
    }
    for (let t = trees.length / K; t < p.trees; t++) {
      // Each round's sampling depends only on the seed and its index, so a resumed run equals an uninterrupted one.
      const random = prng(p.seed * 1_000_003 + t);
      objective.gradients(train.y, raw, grad, hess);
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
      for (let k = 0; k < K; k++) {
        const tree = grower.grow(rows, grad.subarray(k * N, (k + 1) * N), hess.subarray(k * N, (k + 1) * N), features, (value, leafRows) => {
          for (let r = 0; r < leafRows.length; r++) raw[leafRows[r] * K + k] += value;
        });
        trees.push(tree);
        if (rows !== allRows) {
          // Rows left out of this round's sample still need its output.
          const sampled = new Uint8Array(N);
          for (let r = 0; r < rows.length; r++) sampled[rows[r]] = 1;
          for (let i = 0; i < N; i++) if (!sampled[i]) raw[i * K + k] += scoreBinnedRow(tree, bins.codes, i * F);
        }
        for (let i = 0; i < validation.rows; i++) vraw[i * K + k] += scoreBinnedRow(tree, vbins.codes, i * F);
      }
      if (validation.rows > 0) {
        const loss = objective.loss(validation.y, vraw);
        validationLoss.push(loss);
        if (loss < best.loss - 1e-12) best = { loss, iteration: t + 1 };
        if (p.earlyStoppingRounds && t + 1 - best.iteration >= p.earlyStoppingRounds) break;
      } else best = { loss: Number.NaN, iteration: t + 1 };
      if ((t + 1) % 10 === 0 || t + 1 === p.trees) {
        onProgress({ step: t + 1, total: p.trees, message: `round ${t + 1}/${p.trees}`, metrics: { validationLoss: validationLoss[t] ?? Number.NaN } });
      }
      if (options.onCheckpoint && options.checkpointEvery && (t + 1) % options.checkpointEvery === 0 && t + 1 < p.trees) {
        options.onCheckpoint({ trees: trees.slice(), baseScores, validationLoss: validationLoss.slice() });
      }
    }
    // Without early stopping every round is kept; with it, the rounds after the best validation loss are dropped.
    const kept = p.earlyStoppingRounds > 0 ? best.iteration : trees.length / K;
    return { trees: trees.slice(0, kept * K), baseScores, objective: objective.name, bestIteration: best.iteration, validationLoss };
  } finally {
    grower.close();
  }
}

/**
 * The trainer's own predictions (row-major [rows × outputs]: probabilities,
 * or values), computed as ONNX Runtime computes them: float32 comparisons,
 * float32 sums of the trees, then the base value.
 */
export function predictGbdt(m: GbdtModel, d: Dataset): Float64Array {
  const K = m.baseScores.length;
  const objective = objectiveNamed(m.objective, K);
  const raw = new Float64Array(d.rows * K);
  for (let r = 0; r < d.rows; r++) {
    for (let k = 0; k < K; k++) {
      let z = 0;
      for (let t = k; t < m.trees.length; t += K) z = Math.fround(z + scoreRow(m.trees[t], d.x, r * d.features));
      raw[r * K + k] = Math.fround(z + m.baseScores[k]);
    }
  }
  const out = new Float64Array(d.rows * K);
  for (let r = 0; r < d.rows; r++) objective.transform(raw, r * K, out);
  return out;
}
