import type { Dataset } from './dataset';
import { auc, logLoss } from './metrics';
import type { FeatureSpec, ProtectedAttribute } from '../specs/model-spec';
import { encodeValue } from '../specs/feature-encoding';

/** Threshold metrics, calibration and the curves the report draws, from labels and scores. */
export interface Quality {
  auc: number;
  logLoss: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  brier: number;
  ece: number;
  rows: number;
  positives: number;
}

export interface Curves {
  roc: { fpr: number; tpr: number }[];
  pr: { recall: number; precision: number }[];
  calibration: { bin: number; meanScore: number; observedRate: number; rows: number }[];
  histogram: { from: number; to: number; label: 0 | 1; rows: number }[];
}

const CALIBRATION_BINS = 10;

export function quality(y: ArrayLike<number>, s: ArrayLike<number>, threshold: number): Quality {
  let tp = 0, fp = 0, fn = 0, tn = 0, brier = 0;
  for (let i = 0; i < y.length; i++) {
    const pos = s[i] >= threshold;
    if (pos && y[i] === 1) tp++;
    else if (pos) fp++;
    else if (y[i] === 1) fn++;
    else tn++;
    brier += (s[i] - y[i]) ** 2;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : Number.NaN;
  const recall = tp + fn > 0 ? tp / (tp + fn) : Number.NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  const cal = calibration(y, s);
  const ece = cal.reduce((e, b) => e + (b.rows / y.length) * Math.abs(b.meanScore - b.observedRate), 0);
  return {
    auc: auc(y, s),
    logLoss: logLoss(y, s),
    accuracy: (tp + tn) / y.length,
    precision,
    recall,
    f1,
    brier: brier / y.length,
    ece,
    rows: y.length,
    positives: tp + fn,
  };
}

function calibration(y: ArrayLike<number>, s: ArrayLike<number>): Curves['calibration'] {
  const sum = new Float64Array(CALIBRATION_BINS);
  const hits = new Float64Array(CALIBRATION_BINS);
  const rows = new Float64Array(CALIBRATION_BINS);
  for (let i = 0; i < y.length; i++) {
    const b = Math.min(CALIBRATION_BINS - 1, Math.floor(s[i] * CALIBRATION_BINS));
    sum[b] += s[i];
    hits[b] += y[i];
    rows[b]++;
  }
  const out: Curves['calibration'] = [];
  for (let b = 0; b < CALIBRATION_BINS; b++) {
    if (rows[b] > 0) out.push({ bin: b, meanScore: sum[b] / rows[b], observedRate: hits[b] / rows[b], rows: rows[b] });
  }
  return out;
}

/** ROC and precision-recall curves thinned to about `points` points each, plus calibration and a score histogram. */
export function curves(y: ArrayLike<number>, s: ArrayLike<number>, points = 100): Curves {
  const order = Array.from({ length: y.length }, (_, i) => i).sort((a, b) => s[b] - s[a]);
  let P = 0;
  for (let i = 0; i < y.length; i++) P += y[i];
  const N = y.length - P;
  const roc: Curves['roc'] = [{ fpr: 0, tpr: 0 }];
  const pr: Curves['pr'] = [];
  let tp = 0, fp = 0;
  const step = Math.max(1, Math.floor(y.length / points));
  for (let k = 0; k < order.length; k++) {
    if (y[order[k]] === 1) tp++;
    else fp++;
    const tieNext = k + 1 < order.length && s[order[k + 1]] === s[order[k]];
    if ((k % step === 0 || k === order.length - 1) && !tieNext) {
      roc.push({ fpr: N ? fp / N : 0, tpr: P ? tp / P : 0 });
      pr.push({ recall: P ? tp / P : 0, precision: tp / (tp + fp) });
    }
  }
  const histogram: Curves['histogram'] = [];
  for (let b = 0; b < 20; b++) {
    for (const label of [0, 1] as const) histogram.push({ from: b / 20, to: (b + 1) / 20, label, rows: 0 });
  }
  for (let i = 0; i < y.length; i++) histogram[Math.min(19, Math.floor(s[i] * 20)) * 2 + y[i]].rows++;
  return { roc, pr, calibration: calibration(y, s), histogram };
}

export interface GroupRates {
  group: string;
  rows: number;
  positiveRate: number;
  tpr: number;
  fpr: number;
  /** Too few rows (or no positives/negatives for a rate) to measure: left out of the comparisons. */
  measurable: boolean;
  note?: string;
}

export interface FairnessReport {
  attribute: string;
  groups: GroupRates[];
  demographicParityDiff: number;
  equalOpportunityDiff: number;
  disparateImpactRatio: number;
  fourFifthsRule: boolean;
}

/** The groups of a protected attribute: its bands, or the category's values. */
export function groupsOf(attr: ProtectedAttribute, feature: FeatureSpec): { name: string; test: (v: number) => boolean }[] {
  if (attr.bands) {
    const b = attr.bands;
    return [
      { name: `< ${b[0]}`, test: (v: number) => v < b[0] },
      ...b.slice(0, -1).map((lo, i) => ({ name: `${lo}–${b[i + 1] - 1}`, test: (v: number) => v >= lo && v < b[i + 1] })),
      { name: `≥ ${b[b.length - 1]}`, test: (v: number) => v >= b[b.length - 1] },
    ];
  }
  return (feature.values ?? []).map((value) => {
    const code = encodeValue(feature, value);
    return { name: `${attr.feature}=${value}`, test: (v: number) => v === code };
  });
}

/**
 * Per-group positive rate, TPR and FPR at the threshold, and the gaps between
 * measurable groups. A protected attribute that is not a feature is an error,
 * never a silent skip.
 */
export function fairness(d: Dataset, s: ArrayLike<number>, features: FeatureSpec[], attrs: ProtectedAttribute[], threshold: number, minGroupSize: number): FairnessReport[] {
  return attrs.map((attr) => {
    const index = features.findIndex((f) => f.name === attr.feature);
    if (index < 0) throw new Error(`protected attribute "${attr.feature}" is not in the data`);
    const groups: GroupRates[] = groupsOf(attr, features[index]).map(({ name, test }) => {
      let rows = 0, predicted = 0, pos = 0, tp = 0, neg = 0, fp = 0;
      for (let r = 0; r < d.rows; r++) {
        if (!test(d.x[r * d.features + index])) continue;
        rows++;
        const p = s[r] >= threshold;
        if (p) predicted++;
        if (d.y[r] === 1) {
          pos++;
          if (p) tp++;
        } else {
          neg++;
          if (p) fp++;
        }
      }
      const measurable = rows >= minGroupSize && pos > 0 && neg > 0;
      return {
        group: name,
        rows,
        positiveRate: rows ? predicted / rows : Number.NaN,
        tpr: pos ? tp / pos : Number.NaN,
        fpr: neg ? fp / neg : Number.NaN,
        measurable,
        note: measurable ? undefined : rows < minGroupSize ? `too small to measure (${rows} < ${minGroupSize} rows)` : 'no positives or no negatives',
      };
    });
    const m = groups.filter((g) => g.measurable);
    const spread = (k: 'positiveRate' | 'tpr') => (m.length >= 2 ? Math.max(...m.map((g) => g[k])) - Math.min(...m.map((g) => g[k])) : Number.NaN);
    const rates = m.map((g) => g.positiveRate);
    const ratio = m.length >= 2 ? (Math.max(...rates) > 0 ? Math.min(...rates) / Math.max(...rates) : 1) : Number.NaN;
    return {
      attribute: attr.bands ? `${attr.feature} bands` : attr.feature,
      groups,
      demographicParityDiff: spread('positiveRate'),
      equalOpportunityDiff: spread('tpr'),
      disparateImpactRatio: ratio,
      fourFifthsRule: ratio >= 0.8,
    };
  });
}

/** The worst value over attributes, for the policy (NaN when no attribute could be measured). */
export function worstFairness(reports: FairnessReport[]) {
  const finite = (xs: number[]) => xs.filter(Number.isFinite);
  const dp = finite(reports.map((r) => r.demographicParityDiff));
  const eo = finite(reports.map((r) => r.equalOpportunityDiff));
  const di = finite(reports.map((r) => r.disparateImpactRatio));
  return {
    demographicParityDiff: dp.length ? Math.max(...dp) : Number.NaN,
    equalOpportunityDiff: eo.length ? Math.max(...eo) : Number.NaN,
    disparateImpactRatio: di.length ? Math.min(...di) : Number.NaN,
  };
}
