import type { FeatureSpec, ProtectedAttribute } from '../specs/model-spec';
import type { Dataset } from './dataset';
import { groupsOf } from './quality';

/**
 * Held-out quality of regression and multiclass models, with per-group errors
 * for their protected attributes (binary classification: ml/quality.ts).
 */
export interface RegressionQuality {
  task: 'regression';
  rmse: number;
  mae: number;
  /** Mean absolute percentage error over rows whose label is not 0 (NaN when every label is 0). */
  mape: number;
  r2: number;
  /** Mean of prediction − label: above 0 the model over-predicts. */
  meanResidual: number;
  rows: number;
}

export interface MulticlassQuality {
  task: 'multiclass';
  logLoss: number;
  accuracy: number;
  macroF1: number;
  perClass: { class: string; rows: number; precision: number; recall: number; f1: number }[];
  /** confusion[actual][predicted], in label.classes order. */
  confusion: number[][];
  rows: number;
}

export function regressionQuality(y: ArrayLike<number>, pred: ArrayLike<number>): RegressionQuality {
  const n = y.length;
  let se = 0, ae = 0, ape = 0, apeRows = 0, residual = 0, mean = 0;
  for (let i = 0; i < n; i++) mean += y[i] / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const r = pred[i] - y[i];
    se += r * r;
    ae += Math.abs(r);
    residual += r;
    ss += (y[i] - mean) ** 2;
    if (y[i] !== 0) {
      ape += Math.abs(r / y[i]);
      apeRows++;
    }
  }
  return {
    task: 'regression',
    rmse: Math.sqrt(se / n),
    mae: ae / n,
    mape: apeRows ? ape / apeRows : Number.NaN,
    r2: ss > 0 ? 1 - se / ss : Number.NaN,
    meanResidual: residual / n,
    rows: n,
  };
}

/** The most probable class of each row (the first on a tie), from row-major [rows × classes] probabilities. */
export function predictedClasses(probabilities: ArrayLike<number>, classes: number): Int32Array {
  const rows = probabilities.length / classes;
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probabilities[i * classes + k] > probabilities[i * classes + best]) best = k;
    out[i] = best;
  }
  return out;
}

export function multiclassQuality(y: ArrayLike<number>, probabilities: ArrayLike<number>, classes: (string | number)[]): MulticlassQuality {
  const K = classes.length;
  const n = y.length;
  const predicted = predictedClasses(probabilities, K);
  const confusion = classes.map(() => new Array<number>(K).fill(0));
  let loss = 0;
  for (let i = 0; i < n; i++) {
    confusion[y[i]][predicted[i]]++;
    loss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i * K + y[i]])));
  }
  const perClass = classes.map((c, k) => {
    const tp = confusion[k][k];
    const actual = confusion[k].reduce((s, v) => s + v, 0);
    const called = confusion.reduce((s, row) => s + row[k], 0);
    const precision = called ? tp / called : Number.NaN;
    const recall = actual ? tp / actual : Number.NaN;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: String(c), rows: actual, precision, recall, f1 };
  });
  const present = perClass.filter((c) => c.rows > 0);
  return {
    task: 'multiclass',
    logLoss: loss / n,
    accuracy: confusion.reduce((s, row, k) => s + row[k], 0) / n,
    macroF1: present.reduce((s, c) => s + (Number.isNaN(c.f1) ? 0 : c.f1), 0) / Math.max(1, present.length),
    perClass,
    confusion,
    rows: n,
  };
}

/** Per-group errors of a regression or multiclass model, and the largest gap between measurable groups of each. */
export interface GroupErrorReport {
  attribute: string;
  groups: { group: string; rows: number; measurable: boolean; note?: string; values: Record<string, number> }[];
  gaps: Record<string, number>;
}

/**
 * Regression: each group's MAE and mean residual (a group the model
 * systematically under- or over-predicts); multiclass: each group's accuracy
 * and macro recall. A group with fewer than minGroupSize held-out rows is
 * reported as too small, not compared, as for binary models.
 */
export function groupErrors(
  d: Dataset,
  predictions: ArrayLike<number>,
  task: 'regression' | 'multiclass',
  features: FeatureSpec[],
  attrs: ProtectedAttribute[],
  minGroupSize: number,
  classes = 0,
): GroupErrorReport[] {
  const predicted = task === 'multiclass' ? predictedClasses(predictions, classes) : undefined;
  return attrs.map((attr) => {
    const index = features.findIndex((f) => f.name === attr.feature);
    if (index < 0) throw new Error(`protected attribute "${attr.feature}" is not in the data`);
    const groups = groupsOf(attr, features[index]).map(({ name, test }) => {
      const rows: number[] = [];
      for (let r = 0; r < d.rows; r++) if (test(d.x[r * d.features + index])) rows.push(r);
      const measurable = rows.length >= minGroupSize;
      let values: Record<string, number>;
      if (predicted) {
        const hits = new Float64Array(classes);
        const seen = new Float64Array(classes);
        for (const r of rows) {
          seen[d.y[r]]++;
          if (predicted[r] === d.y[r]) hits[d.y[r]]++;
        }
        const recalls = Array.from(seen).flatMap((s, k) => (s > 0 ? [hits[k] / s] : []));
        values = { accuracy: rows.length ? hits.reduce((a, b) => a + b, 0) / rows.length : Number.NaN, macroRecall: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : Number.NaN };
      } else {
        let ae = 0, residual = 0;
        for (const r of rows) {
          ae += Math.abs(predictions[r] - d.y[r]);
          residual += predictions[r] - d.y[r];
        }
        values = { mae: rows.length ? ae / rows.length : Number.NaN, meanResidual: rows.length ? residual / rows.length : Number.NaN };
      }
      return { group: name, rows: rows.length, measurable, note: measurable ? undefined : `too small to measure (${rows.length} < ${minGroupSize} rows)`, values };
    });
    const measured = groups.filter((g) => g.measurable);
    const gap = (k: string) => (measured.length >= 2 ? Math.max(...measured.map((g) => g.values[k])) - Math.min(...measured.map((g) => g.values[k])) : Number.NaN);
    const gaps: Record<string, number> = predicted ? { accuracyGap: gap('accuracy'), recallGap: gap('macroRecall') } : { maeGap: gap('mae'), residualGap: gap('meanResidual') };
    return { attribute: attr.bands ? `${attr.feature} bands` : attr.feature, groups, gaps };
  });
}

/** The worst gap over attributes, for the policy (NaN when none could be measured). */
export function worstGaps(reports: GroupErrorReport[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.gaps)) if (Number.isFinite(v)) out[k] = Math.max(out[k] ?? -Infinity, v);
  }
  return out;
}
