import type { ModelSpec } from '../specs/model-spec';
import { labelClasses } from '../specs/label';
import type { Dataset } from './dataset';
import type { Metrics } from './policy';
import { curves, fairness, quality, worstFairness, type Curves, type FairnessReport, type Quality } from './quality';
import { groupErrors, multiclassQuality, regressionQuality, worstGaps, type GroupErrorReport, type MulticlassQuality, type RegressionQuality } from './task-quality';

export type TaskQuality = (Quality & { task?: 'binary' }) | RegressionQuality | MulticlassQuality;

/** What the report draws for a version, per task. */
export type TaskCharts =
  | { task: 'binary'; curves: Curves }
  | { task: 'regression'; points: { actual: number; predicted: number }[] }
  | { task: 'multiclass'; classes: string[]; confusion: number[][] };

export interface Measured {
  quality: TaskQuality;
  /** The accuracy and bias metrics the policy reads (ml/criteria.ts TASK_METRICS). */
  metrics: Metrics;
  /** Binary models: group rates. */
  fairness: FairnessReport[];
  /** Regression and multiclass models: group errors. */
  groupErrors: GroupErrorReport[];
  charts: TaskCharts;
}

/** At most this many held-out rows in a scatter chart: enough to see the shape, small enough for an SVG. */
const SCATTER_POINTS = 600;

/** One version's held-out quality for its task, from its predictions (OnnxScorer.scoreDataset's layout). */
export function measure(spec: ModelSpec, test: Dataset, predictions: Float64Array): Measured {
  const { features, protectedAttributes: attrs, fairness: f } = spec;
  if (spec.task === 'regression') {
    const q = regressionQuality(test.y, predictions);
    const groups = groupErrors(test, predictions, 'regression', features, attrs, f.minGroupSize);
    const step = Math.max(1, Math.ceil(test.rows / SCATTER_POINTS));
    const points = Array.from({ length: Math.ceil(test.rows / step) }, (_, i) => ({ actual: test.y[i * step], predicted: predictions[i * step] }));
    return {
      quality: q,
      metrics: { rmse: q.rmse, mae: q.mae, mape: q.mape, r2: q.r2, absMeanResidual: Math.abs(q.meanResidual), ...worstGaps(groups) },
      fairness: [],
      groupErrors: groups,
      charts: { task: 'regression', points },
    };
  }
  if (spec.task === 'multiclass-classification') {
    const classes = labelClasses(spec)!;
    const q = multiclassQuality(test.y, predictions, classes);
    const groups = groupErrors(test, predictions, 'multiclass', features, attrs, f.minGroupSize, classes.length);
    return {
      quality: q,
      metrics: { logLoss: q.logLoss, accuracy: q.accuracy, macroF1: q.macroF1, ...worstGaps(groups) },
      fairness: [],
      groupErrors: groups,
      charts: { task: 'multiclass', classes: classes.map(String), confusion: q.confusion },
    };
  }
  const q = quality(test.y, predictions, spec.policy.threshold);
  const groups = fairness(test, predictions, features, attrs, spec.policy.threshold, f.minGroupSize);
  return { quality: q, metrics: { ...q, ...worstFairness(groups) }, fairness: groups, groupErrors: [], charts: { task: 'binary', curves: curves(test.y, predictions) } };
}

/** A version's held-out quality in one line, for people: the task's headline metrics and the rows they were measured on. */
/** A figure as people read it: four decimals, one where it is a count-sized value. */
const f = (v: number | undefined) => (v === undefined || v === null || !Number.isFinite(v) ? '–' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4));

export function describeQuality(q: TaskQuality): string {
  if (q.task === 'regression') return `RMSE ${f(q.rmse)}, MAE ${f(q.mae)}, R² ${f(q.r2)} on ${q.rows} held-out rows`;
  if (q.task === 'multiclass') return `log loss ${f(q.logLoss)}, accuracy ${f(q.accuracy)}, macro-F1 ${f(q.macroF1)} on ${q.rows} held-out rows`;
  return `AUC ${f(q.auc)}, log loss ${f(q.logLoss)}, accuracy ${f(q.accuracy)} on ${q.rows} held-out rows`;
}

/** The one figure a list of versions shows per version: AUC, RMSE or accuracy. */
export function headline(q: TaskQuality | undefined): string {
  if (q?.task === 'regression') return `rmse ${f(q.rmse)}`;
  if (q?.task === 'multiclass') return `accuracy ${f(q.accuracy)}`;
  return `auc ${f(q?.auc)}`;
}

/** A version's main figures for scripts (factory history --json), the headline first. */
export function summaryMetrics(q: TaskQuality): Record<string, number> {
  if (q.task === 'regression') return { rmse: q.rmse, mae: q.mae, r2: q.r2 };
  if (q.task === 'multiclass') return { accuracy: q.accuracy, logLoss: q.logLoss, macroF1: q.macroF1 };
  return { auc: q.auc, logLoss: q.logLoss, accuracy: q.accuracy };
}
