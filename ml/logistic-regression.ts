import type { z } from 'zod';
import type { FeatureSpec, logisticRegressionSchema } from '../specs/model-spec';
import type { Dataset } from './dataset';
import { logLoss } from './metrics';
import { encodedInputs } from './onnx/inputs';
import { encodeModel } from './onnx/model';
import { ONNX_OUTPUT, type Trainer } from './trainer';

type Params = z.infer<typeof logisticRegressionSchema>;

export interface LogisticModel {
  mean: Float32Array;
  scale: Float32Array;
  weights: Float32Array;
  bias: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Scores with the exported (float32) parameters, so it is the reference the ONNX graph must match. */
export function predictLogistic(m: LogisticModel, d: Dataset): Float64Array {
  const out = new Float64Array(d.rows);
  for (let r = 0; r < d.rows; r++) {
    let z = m.bias;
    const base = r * d.features;
    for (let j = 0; j < d.features; j++) z += m.weights[j] * ((Math.fround(d.x[base + j]) - m.mean[j]) / m.scale[j]);
    out[r] = sigmoid(z);
  }
  return out;
}

/** Solves A x = b for symmetric positive definite A (n×n, row-major) by Cholesky. */
function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (s <= 0) throw new Error('logistic regression: Hessian is not positive definite (raise l2)');
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
    y[i] = s / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

/**
 * L2-regularised logistic regression fitted by Newton's method (IRLS) with step
 * halving: exact, deterministic, and a handful of iterations for tabular data.
 */
export function fitLogistic(
  d: Dataset,
  params: Params,
  onIteration: (iteration: number, loss: number) => void = () => undefined,
): { model: LogisticModel; iterations: number; trainLoss: number } {
  const f = d.features;
  const n = d.rows;
  const mean = new Float64Array(f);
  const scale = new Float64Array(f);
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) mean[j] += d.x[r * f + j] / n;
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) scale[j] += (d.x[r * f + j] - mean[j]) ** 2 / n;
  for (let j = 0; j < f; j++) scale[j] = Math.sqrt(scale[j]) || 1;

  // The model scores float32 inputs with float32 parameters; fit on exactly that.
  const mean32 = Float32Array.from(mean);
  const scale32 = Float32Array.from(scale);
  const z = new Float64Array(n * f);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < f; j++) z[r * f + j] = (Math.fround(d.x[r * f + j]) - mean32[j]) / scale32[j];

  const p = f + 1; // weights, then bias
  let w = new Float64Array(p);
  const objective = (coef: Float64Array) => {
    let loss = 0;
    for (let r = 0; r < n; r++) {
      let s = coef[f];
      for (let j = 0; j < f; j++) s += coef[j] * z[r * f + j];
      // log(1 + e^s) - y s, computed without overflow
      loss += (s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s))) - d.y[r] * s;
    }
    let penalty = 0;
    for (let j = 0; j < f; j++) penalty += coef[j] ** 2;
    return loss + (params.l2 / 2) * penalty;
  };
  let current = objective(w);
  let iterations = 0;
  for (; iterations < params.maxIterations; iterations++) {
    const grad = new Float64Array(p);
    const hess = new Float64Array(p * p);
    const row = new Float64Array(p);
    row[f] = 1;
    for (let r = 0; r < n; r++) {
      let s = w[f];
      for (let j = 0; j < f; j++) {
        row[j] = z[r * f + j];
        s += w[j] * row[j];
      }
      const pr = sigmoid(s);
      const resid = pr - d.y[r];
      const weight = Math.max(pr * (1 - pr), 1e-12);
      for (let a = 0; a < p; a++) {
        grad[a] += resid * row[a];
        const wa = weight * row[a];
        for (let b = 0; b <= a; b++) hess[a * p + b] += wa * row[b];
      }
    }
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) hess[b * p + a] = hess[a * p + b];
    for (let j = 0; j < f; j++) {
      grad[j] += params.l2 * w[j];
      hess[j * p + j] += params.l2;
    }
    hess[f * p + f] += 1e-9;
    const step = choleskySolve(hess, grad, p);
    let t = 1;
    let next = w;
    let value = current;
    for (let halving = 0; halving < 30; halving++) {
      next = w.map((v, i) => v - t * step[i]);
      value = objective(next);
      if (value <= current) break;
      t /= 2;
    }
    const improvement = current - value;
    w = next;
    current = value;
    onIteration(iterations + 1, current / n);
    if (improvement <= params.tolerance * Math.max(1, Math.abs(current))) {
      iterations++;
      break;
    }
  }
  const model: LogisticModel = {
    mean: mean32,
    scale: scale32,
    weights: Float32Array.from(w.subarray(0, f)),
    bias: Math.fround(w[f]),
  };
  return { model, iterations, trainLoss: current / n };
}

export function logisticToOnnx(m: LogisticModel, features: FeatureSpec[], modelName: string): Uint8Array {
  const f = features.length;
  const encoded = encodedInputs(features);
  // The graph's columns are in its own order (ml/onnx/inputs.ts): each coefficient goes where its feature is.
  const inGraphOrder = (v: ArrayLike<number>) => {
    const out = new Float32Array(f);
    for (let j = 0; j < f; j++) out[encoded.position[j]] = v[j];
    return out;
  };
  return encodeModel({
    name: `${modelName}-logistic-regression`,
    opsets: encoded.nodes.length > 0 ? { '': 13, 'ai.onnx.ml': 2 } : { '': 13 },
    docString: 'Standardise, linear score, sigmoid.',
    metadata: { features: features.map((x) => x.name).join(','), trainer: 'logistic-regression' },
    inputs: encoded.inputs,
    outputs: [{ name: ONNX_OUTPUT, dims: ['N', 1] }],
    initializers: [
      ...encoded.initializers,
      { name: 'mean', dims: [f], values: inGraphOrder(m.mean) },
      { name: 'scale', dims: [f], values: inGraphOrder(m.scale) },
      { name: 'weights', dims: [f, 1], values: inGraphOrder(m.weights) },
      { name: 'bias', dims: [1], values: [m.bias] },
    ],
    nodes: [
      ...encoded.nodes,
      { opType: 'Sub', name: 'center', inputs: [encoded.output, 'mean'], outputs: ['centered'] },
      { opType: 'Div', name: 'standardise', inputs: ['centered', 'scale'], outputs: ['standardised'] },
      { opType: 'MatMul', name: 'linear', inputs: ['standardised', 'weights'], outputs: ['logit_no_bias'] },
      { opType: 'Add', name: 'add_bias', inputs: ['logit_no_bias', 'bias'], outputs: ['logit'] },
      { opType: 'Sigmoid', name: 'sigmoid', inputs: ['logit'], outputs: [ONNX_OUTPUT] },
    ],
  });
}

export const trainLogisticRegression: Trainer<Params> = ({ spec, params, train, validation, onProgress }) => {
  const { model, iterations, trainLoss } = fitLogistic(train, params, (iteration, loss) =>
    onProgress({ step: iteration, total: params.maxIterations, message: `Newton iteration ${iteration}`, metrics: { trainLogLoss: loss } }),
  );
  const predict = (d: Dataset) => predictLogistic(model, d);
  const validationLogLoss = validation.rows > 0 ? logLoss(validation.y, predict(validation)) : Number.NaN;
  return {
    onnx: logisticToOnnx(model, spec.features, spec.name),
    predict,
    metrics: { iterations, trainLogLoss: trainLoss, validationLogLoss },
    summary: {
      weights: Object.fromEntries(spec.features.map((f, j) => [f.name, model.weights[j]])),
      bias: model.bias,
    },
  };
};
