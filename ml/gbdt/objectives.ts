import type { ModelSpec } from '../../specs/model-spec';
import { labelClasses, regressionObjective } from '../../specs/label';
import { gradientsInKernels } from './kernels';

/**
 * What boosting minimises, as gradients and hessians of the loss in the raw
 * (margin) score, one raw score per output: one output for binary and
 * regression, one per class for multiclass (a tree per class per round, as
 * XGBoost's multi:softprob and LightGBM's multiclass do).
 */
export interface Objective {
  name: 'logistic' | 'squared-error' | 'poisson' | 'softmax';
  outputs: number;
  /** The raw score every row starts from, per output. */
  base(y: Float64Array): number[];
  /** Gradients and hessians of every row, output-major ([outputs × rows]: a tree's own gradients are contiguous), from raw scores laid out row-major [rows × outputs]. */
  gradients(y: Float64Array, raw: Float64Array, grad: Float64Array, hess: Float64Array): void;
  /** Mean loss: what early stopping watches on the validation split. */
  loss(y: Float64Array, raw: Float64Array): number;
  /** A row's raw scores (at raw[offset…]) as its prediction(s), written to out[offset…]. */
  transform(raw: ArrayLike<number>, offset: number, out: Float64Array): void;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const mean = (y: Float64Array) => y.reduce((s, v) => s + v, 0) / Math.max(1, y.length);

export const logistic: Objective = {
  name: 'logistic',
  outputs: 1,
  base(y) {
    const prior = Math.min(Math.max(mean(y), 1e-6), 1 - 1e-6);
    return [Math.fround(Math.log(prior / (1 - prior)))];
  },
  gradients(y, raw, grad, hess) {
    gradientsInKernels(y, raw, grad, hess, (k, ...at) => k.logisticGradients(...at, y.length));
  },
  loss(y, raw) {
    let s = 0;
    for (let i = 0; i < y.length; i++) {
      const z = raw[i];
      s += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i] * z;
    }
    return s / y.length;
  },
  transform(raw, offset, out) {
    out[offset] = sigmoid(raw[offset]);
  },
};

const squaredError: Objective = {
  name: 'squared-error',
  outputs: 1,
  base: (y) => [Math.fround(mean(y))],
  gradients(y, raw, grad, hess) {
    for (let i = 0; i < y.length; i++) {
      grad[i] = raw[i] - y[i];
      hess[i] = 1;
    }
  },
  loss(y, raw) {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += (raw[i] - y[i]) ** 2;
    return s / y.length;
  },
  transform(raw, offset, out) {
    out[offset] = raw[offset];
  },
};

/** XGBoost's default for count:poisson: it keeps early leaves from jumping while exp(raw) is far off. */
const POISSON_MAX_DELTA_STEP = 0.7;

const poisson: Objective = {
  name: 'poisson',
  outputs: 1,
  base: (y) => [Math.fround(Math.log(Math.max(mean(y), 1e-6)))],
  gradients(y, raw, grad, hess) {
    gradientsInKernels(y, raw, grad, hess, (k, ...at) => k.poissonGradients(...at, y.length, POISSON_MAX_DELTA_STEP));
  },
  /** The Poisson negative log-likelihood without its constant log(y!). */
  loss(y, raw) {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += Math.exp(raw[i]) - y[i] * raw[i];
    return s / y.length;
  },
  transform(raw, offset, out) {
    out[offset] = Math.exp(raw[offset]);
  },
};

function softmax(classes: number): Objective {
  const probabilities = (raw: ArrayLike<number>, offset: number, out: Float64Array, at = offset) => {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, raw[offset + k]);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += (out[at + k] = Math.exp(raw[offset + k] - max));
    for (let k = 0; k < classes; k++) out[at + k] /= sum;
  };
  return {
    name: 'softmax',
    outputs: classes,
    // Every class starts at 0 (equal probabilities), as XGBoost's multi:softprob does: starting from the class
    // priors measured worse on white wine (held-out log loss 0.972 against 0.957), a rare class's tiny prior
    // leaving its trees too little gradient to correct it.
    base: () => new Array<number>(classes).fill(0),
    gradients(y, raw, grad, hess) {
      const n = y.length;
      const p = new Float64Array(classes);
      for (let i = 0; i < n; i++) {
        probabilities(raw, i * classes, p, 0);
        for (let k = 0; k < classes; k++) {
          grad[k * n + i] = p[k] - (y[i] === k ? 1 : 0);
          hess[k * n + i] = Math.max(2 * p[k] * (1 - p[k]), 1e-16);
        }
      }
    },
    loss(y, raw) {
      const p = new Float64Array(classes);
      let s = 0;
      for (let i = 0; i < y.length; i++) {
        probabilities(raw, i * classes, p, 0);
        s -= Math.log(Math.max(p[y[i]], 1e-15));
      }
      return s / y.length;
    },
    transform: (raw, offset, out) => probabilities(raw, offset, out),
  };
}

/** The objective a model's task and label call for. */
export function objectiveOf(spec: Pick<ModelSpec, 'task' | 'label'>): Objective {
  if (spec.task === 'regression') return regressionObjective(spec) === 'poisson' ? poisson : squaredError;
  if (spec.task === 'multiclass-classification') return softmax(labelClasses(spec)!.length);
  return logistic;
}

/** The objective a trained model was fitted with, from its name and its number of outputs. */
export function objectiveNamed(name: Objective['name'], outputs: number): Objective {
  return { logistic, 'squared-error': squaredError, poisson, softmax: softmax(outputs) }[name];
}
