import type { BatchRow } from '../specs/data-batch';
import { encodeValue } from '../specs/feature-encoding';
import type { FeatureSpec } from '../specs/model-spec';
import { splitsOf, type SplitFractions, type SplitName } from './split';

/** Rows as a dense row-major float64 matrix, the shape every trainer and scorer works on. */
export interface Dataset {
  ids: string[];
  x: Float64Array;
  /** The label as the model learns it: 0 or 1, a class index, or a regression value. */
  y: Float64Array;
  rows: number;
  features: number;
  /** When each row happened (ms since 1970), for a model with a time column: splits follow it. */
  time?: Float64Array;
}

/** Validated rows as a dataset, each value encoded as specs/feature-encoding.ts says. */
export function toDataset(rows: BatchRow[], spec: { features: FeatureSpec[] }): Dataset {
  const features = spec.features.length;
  const x = new Float64Array(rows.length * features);
  const y = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    spec.features.forEach((f, j) => (x[i * features + j] = encodeValue(f, r.features[j])));
    y[i] = r.label;
  });
  const timed = rows.length > 0 && rows.every((r) => r.time !== undefined);
  return { ids: rows.map((r) => r.id), x, y, rows: rows.length, features, ...(timed ? { time: Float64Array.from(rows, (r) => r.time!) } : {}) };
}

/** The split (ml/split.ts: by id hash, or by time) of a dataset, each part keeping the rows' order. */
export function splitDataset(d: Dataset, f: SplitFractions): Record<SplitName, Dataset> {
  const members: Record<SplitName, number[]> = { train: [], validation: [], test: [] };
  splitsOf(d.ids, f, d.time).forEach((name, i) => members[name].push(i));
  const take = (rows: number[]): Dataset => {
    const x = new Float64Array(rows.length * d.features);
    const y = new Float64Array(rows.length);
    rows.forEach((r, i) => {
      x.set(d.x.subarray(r * d.features, (r + 1) * d.features), i * d.features);
      y[i] = d.y[r];
    });
    return { ids: rows.map((r) => d.ids[r]), x, y, rows: rows.length, features: d.features, ...(d.time ? { time: Float64Array.from(rows, (r) => d.time![r]) } : {}) };
  };
  return { train: take(members.train), validation: take(members.validation), test: take(members.test) };
}
