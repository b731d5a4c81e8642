import type { z } from 'zod';
import { otherCode } from '../specs/feature-encoding';
import type { FeatureSpec, linearSchema } from '../specs/model-spec';
import type { Dataset } from './dataset';
import type { Objective } from './gbdt/objectives';
import { objectiveNamed, objectiveOf } from './gbdt/objectives';
import { encodedInputs } from './onnx/inputs';
import { encodeModel, type Initializer, type OnnxNode } from './onnx/model';
import { modelOutput, type Trainer } from './trainer';

type Params = z.infer<typeof linearSchema>;

/**
 * The linear family: logistic regression (binary), multinomial logistic
 * regression (multiclass) and ridge regression (regression, squared error;
 * a Poisson label is fitted on the log link), all on one design matrix:
 * numeric features standardised (a missing value at the mean, so 0), and
 * every category one-hot, a column per listed value (and one for "other"
 * where unlisted values are allowed; a missing category is all zeros).
 */
export interface DesignColumn {
  feature: number;
  /** A numeric feature's mean and scale, or the category code this indicator is 1 for. */
  mean?: number;
  scale?: number;
  code?: number;
  name: string;
}

export interface LinearModel {
  design: DesignColumn[];
  /** [design columns × outputs], row-major, float32. */
  weights: Float32Array;
  bias: Float32Array;
  objective: Objective['name'];
}

/** The design of a dataset: float32 means and scales, as the exported graph computes with them. */
export function fitDesign(features: FeatureSpec[], d: Dataset): DesignColumn[] {
  return features.flatMap((f, j): DesignColumn[] => {
    if (f.type === 'category') {
      const codes = f.values!.map((v, k) => ({ code: typeof v === 'number' ? v : k, name: `${f.name}=${v}` }));
      if (f.unknown === 'other' && typeof f.values![0] === 'string') codes.push({ code: otherCode(f), name: `${f.name}=(other)` });
      return codes.map((c) => ({ feature: j, code: c.code, name: c.name }));
    }
    let sum = 0;
    let n = 0;
    for (let r = 0; r < d.rows; r++) {
      const v = d.x[r * d.features + j];
      if (!Number.isNaN(v)) {
        sum += Math.fround(v);
        n++;
      }
    }
    const mean = n ? sum / n : 0;
    let ss = 0;
    for (let r = 0; r < d.rows; r++) {
      const v = d.x[r * d.features + j];
      if (!Number.isNaN(v)) ss += (Math.fround(v) - mean) ** 2;
    }
    return [{ feature: j, mean: Math.fround(mean), scale: Math.fround(Math.sqrt(n ? ss / n : 0) || 1), name: f.name }];
  });
}

/** The design matrix [rows × columns], computed as the graph computes it (float32 inputs and constants). */
export function expand(design: DesignColumn[], d: Dataset): Float64Array {
  const D = design.length;
  const z = new Float64Array(d.rows * D);
  for (let r = 0; r < d.rows; r++) {
    for (let c = 0; c < D; c++) {
      const col = design[c];
      const v = d.x[r * d.features + col.feature];
      z[r * D + c] = col.code !== undefined ? (v === col.code ? 1 : 0) : Number.isNaN(v) ? 0 : Math.fround(Math.fround(Math.fround(v) - col.mean!) / col.scale!);
    }
  }
  return z;
}

/** Predictions with the exported float32 parameters: the reference the ONNX graph must match. */
export function predictLinear(m: LinearModel, d: Dataset): Float64Array {
  const K = m.bias.length;
  const raw = rawOutputs(m, d);
  const out = new Float64Array(raw.length);
  const objective = objectiveNamed(m.objective, K);
  for (let r = 0; r < d.rows; r++) objective.transform(raw, r * K, out);
  return out;
}

/** The raw outputs [rows × outputs] before the head, as the graph's MatMul and Add make them (float32). */
function rawOutputs(m: LinearModel, d: Dataset): Float64Array {
  const z = expand(m.design, d);
  const D = m.design.length;
  const K = m.bias.length;
  const raw = new Float64Array(d.rows * K);
  for (let r = 0; r < d.rows; r++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let c = 0; c < D; c++) s += z[r * D + c] * m.weights[c * K + k];
      raw[r * K + k] = Math.fround(Math.fround(s) + m.bias[k]);
    }
  }
  return raw;
}

/** Solves A x = b for symmetric positive definite A (n×n, row-major) by Cholesky. */
function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (s <= 0) throw new Error('linear model: the Hessian is not positive definite (raise l2)');
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
 * Newton's method with step halving on the objective's loss plus L2 on the
 * weights (not the intercepts): exact and deterministic, a handful of
 * iterations for tabular data; one step for squared error, which makes it
 * ridge regression's closed form. Parameters are laid out per design column
 * then intercept, output by output.
 */
export function fitLinear(
  features: FeatureSpec[],
  d: Dataset,
  objective: Objective,
  params: Params,
  onIteration: (iteration: number, loss: number) => void = () => undefined,
): { model: LinearModel; iterations: number; trainLoss: number } {
  const design = fitDesign(features, d);
  const z = expand(design, d);
  const D = design.length;
  const K = objective.outputs;
  const q = D + 1;
  const P = q * K;
  const n = d.rows;
  // The intercepts start where the objective's trees would (the prior, the mean).
  const base = objective.base(d.y);
  let w = new Float64Array(P);
  for (let k = 0; k < K; k++) w[k * q + D] = base[k];
  const raws = (coef: Float64Array) => {
    const raw = new Float64Array(n * K);
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < K; k++) {
        let s = coef[k * q + D];
        for (let c = 0; c < D; c++) s += coef[k * q + c] * z[r * D + c];
        raw[r * K + k] = s;
      }
    }
    return raw;
  };
  const penalty = (coef: Float64Array) => {
    let s = 0;
    for (let k = 0; k < K; k++) for (let c = 0; c < D; c++) s += coef[k * q + c] ** 2;
    return (params.l2 / 2) * s;
  };
  const loss = (coef: Float64Array) => objective.loss(d.y, raws(coef)) * n + penalty(coef);
  let current = loss(w);
  let iterations = 0;
  const grad = new Float64Array(n * K);
  // The objective's hessians are the trees' (inflated for Poisson, doubled for softmax); Newton uses curvature() instead.
  const treeHessians = new Float64Array(n * K);
  const probabilities = new Float64Array(n * K);
  for (; iterations < params.maxIterations; iterations++) {
    const raw = raws(w);
    objective.gradients(d.y, raw, grad, treeHessians);
    for (let r = 0; r < n; r++) objective.transform(raw, r * K, probabilities);
    const g = new Float64Array(P);
    const H = new Float64Array(P * P);
    const row = new Float64Array(q);
    row[D] = 1;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < D; c++) row[c] = z[r * D + c];
      for (let k = 0; k < K; k++) {
        const gk = grad[k * n + r];
        for (let a = 0; a < q; a++) g[k * q + a] += gk * row[a];
        for (let l = 0; l <= k; l++) {
          const h = curvature(objective.name, probabilities, r * K, k, l);
          if (h === 0) continue;
          for (let a = 0; a < q; a++) {
            const ha = h * row[a];
            if (ha === 0) continue;
            const at = (k * q + a) * P + l * q;
            for (let b = 0; b < q; b++) H[at + b] += ha * row[b];
          }
        }
      }
    }
    // H above holds the blocks with k ≥ l; the others are their transposes.
    for (let i = 0; i < P; i++) for (let j = i + 1; j < P; j++) if (Math.floor(j / q) > Math.floor(i / q)) H[i * P + j] = H[j * P + i];
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < D; c++) {
        g[k * q + c] += params.l2 * w[k * q + c];
        // A category's one-hot columns sum to 1, as the intercept does: without l2 the optimum is a line, not a
        // point, and this floor under the curvature picks a point on it.
        H[(k * q + c) * P + k * q + c] += params.l2 + 1e-6;
      }
      // The softmax's intercepts are determined only up to a constant: a little curvature fixes them.
      H[(k * q + D) * P + k * q + D] += 1e-6;
    }
    const step = choleskySolve(H, g, P);
    let t = 1;
    let next = w;
    let value = current;
    for (let halving = 0; halving < 30; halving++) {
      next = w.map((v, i) => v - t * step[i]);
      value = loss(next);
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
  const weights = new Float32Array(D * K);
  const bias = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    for (let c = 0; c < D; c++) weights[c * K + k] = w[k * q + c];
    bias[k] = w[k * q + D];
  }
  return { model: { design, weights, bias, objective: objective.name }, iterations, trainLoss: current / n };
}

/**
 * The exact second derivative of the loss in raw outputs k and l at a row
 * with predictions p (the trees' objectives inflate some, for stability of
 * leaf values; Newton's method wants the true one): p(1−p) for logistic,
 * 1 for squared error, the mean for Poisson, p_k(δ_kl − p_l) for softmax.
 */
function curvature(name: Objective['name'], p: Float64Array, at: number, k: number, l: number): number {
  switch (name) {
    case 'logistic':
      return Math.max(p[at] * (1 - p[at]), 1e-12);
    case 'squared-error':
      return 1;
    case 'poisson':
      return p[at];
    case 'softmax':
      return k === l ? Math.max(p[at + k] * (1 - p[at + k]), 1e-12) : -p[at + k] * p[at + l];
  }
}

const HEADS: Record<Objective['name'], { op: string; attributes?: OnnxNode['attributes'] }> = {
  logistic: { op: 'Sigmoid' },
  softmax: { op: 'Softmax', attributes: [{ name: 'axis', kind: 'int', value: 1 }] },
  'squared-error': { op: 'Identity' },
  poisson: { op: 'Exp' },
};

/**
 * The graph: the encoded features (ml/onnx/inputs.ts), each design column
 * made from its feature's column (numbers: NaN to the mean, standardised;
 * categories: Equal to the code, as 0 or 1), one MatMul and Add, the head.
 */
export function linearToOnnx(m: LinearModel, features: FeatureSpec[], task: { task?: 'binary-classification' | 'multiclass-classification' | 'regression'; label?: unknown }, modelName: string): Uint8Array {
  const encoded = encodedInputs(features);
  const D = m.design.length;
  const K = m.bias.length;
  const nodes: OnnxNode[] = [...encoded.nodes];
  const initializers: Initializer[] = [...encoded.initializers];
  const pieces: string[] = [];
  m.design.forEach((col, c) => {
    initializers.push({ name: `design_${c}_column`, dims: [1], values: [encoded.position[col.feature]], type: 'int64' });
    nodes.push({ opType: 'Gather', name: `design_${c}_take`, inputs: [encoded.output, `design_${c}_column`], outputs: [`design_${c}_x`], attributes: [{ name: 'axis', kind: 'int', value: 1 }] });
    if (col.code !== undefined) {
      initializers.push({ name: `design_${c}_code`, dims: [1], values: [col.code] });
      nodes.push({ opType: 'Equal', name: `design_${c}_equal`, inputs: [`design_${c}_x`, `design_${c}_code`], outputs: [`design_${c}_is`] });
      nodes.push({ opType: 'Cast', name: `design_${c}_cast`, inputs: [`design_${c}_is`], outputs: [`design_${c}`], attributes: [{ name: 'to', kind: 'int', value: 1 }] });
    } else {
      initializers.push({ name: `design_${c}_mean`, dims: [1], values: [col.mean!] }, { name: `design_${c}_scale`, dims: [1], values: [col.scale!] });
      nodes.push({ opType: 'IsNaN', name: `design_${c}_missing`, inputs: [`design_${c}_x`], outputs: [`design_${c}_nan`] });
      nodes.push({ opType: 'Where', name: `design_${c}_filled`, inputs: [`design_${c}_nan`, `design_${c}_mean`, `design_${c}_x`], outputs: [`design_${c}_f`] });
      nodes.push({ opType: 'Sub', name: `design_${c}_center`, inputs: [`design_${c}_f`, `design_${c}_mean`], outputs: [`design_${c}_c`] });
      nodes.push({ opType: 'Div', name: `design_${c}_standardise`, inputs: [`design_${c}_c`, `design_${c}_scale`], outputs: [`design_${c}`] });
    }
    pieces.push(`design_${c}`);
  });
  initializers.push({ name: 'weights', dims: [D, K], values: m.weights }, { name: 'bias', dims: [K], values: m.bias });
  const head = HEADS[m.objective];
  const output = modelOutput(task as Parameters<typeof modelOutput>[0]).name;
  nodes.push(
    { opType: 'Concat', name: 'design', inputs: pieces, outputs: ['design'], attributes: [{ name: 'axis', kind: 'int', value: 1 }] },
    { opType: 'MatMul', name: 'linear', inputs: ['design', 'weights'], outputs: ['linear'] },
    { opType: 'Add', name: 'add_bias', inputs: ['linear', 'bias'], outputs: ['raw'] },
    { opType: head.op, name: head.op.toLowerCase(), inputs: ['raw'], outputs: [output], attributes: head.attributes },
  );
  return encodeModel({
    name: `${modelName}-linear`,
    opsets: { '': 13, 'ai.onnx.ml': 2 },
    docString: `Linear model (${m.objective}) on ${D} design columns: standardised numbers, one-hot categories.`,
    metadata: { features: features.map((f) => f.name).join(','), trainer: 'linear', design: m.design.map((c) => c.name).join(',') },
    inputs: encoded.inputs,
    outputs: [{ name: output, dims: ['N', K] }],
    initializers,
    nodes,
  });
}

export const trainLinear: Trainer<Params> = ({ spec, params, train, validation, onProgress }) => {
  const objective = objectiveOf(spec);
  const { model, iterations, trainLoss } = fitLinear(spec.features, train, objective, params, (iteration, loss) =>
    onProgress({ step: iteration, total: params.maxIterations, message: `Newton iteration ${iteration}`, metrics: { trainLoss: loss } }),
  );
  const predict = (d: Dataset) => predictLinear(model, d);
  // The validation loss in the objective's own terms, from the exported model's raw outputs.
  const validationLoss = validation.rows > 0 ? objective.loss(validation.y, rawOutputs(model, validation)) : Number.NaN;
  const lossName = objective.name === 'logistic' || objective.name === 'softmax' ? 'validationLogLoss' : 'validationLoss';
  return {
    onnx: linearToOnnx(model, spec.features, spec, spec.name),
    predict,
    metrics: { iterations, trainLoss, [lossName]: validationLoss, designColumns: model.design.length },
    summary: {
      objective: model.objective,
      weights: Object.fromEntries(model.design.map((c, i) => [c.name, Array.from(model.weights.subarray(i * model.bias.length, (i + 1) * model.bias.length))])),
      bias: Array.from(model.bias),
    },
  };
};
