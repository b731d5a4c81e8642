import type { BatchRow } from '../specs/data-batch';

/** Rows as a dense row-major float64 matrix, the shape every trainer and scorer works on. */
export interface Dataset {
  ids: string[];
  x: Float64Array;
  y: Uint8Array;
  rows: number;
  features: number;
}

export function toDataset(rows: BatchRow[], features: number): Dataset {
  const x = new Float64Array(rows.length * features);
  const y = new Uint8Array(rows.length);
  rows.forEach((r, i) => {
    x.set(r.features, i * features);
    y[i] = r.label;
  });
  return { ids: rows.map((r) => r.id), x, y, rows: rows.length, features };
}
