import type { Dataset } from '../dataset';
import { binInKernels, distinctValues } from './kernels';

/**
 * Feature binning for histogram-based trees. Bin 0 holds missing values (NaN);
 * bins 1..k hold values up to each float32 edge. Comparisons are made in float32
 * so the ONNX model (float32 inputs and thresholds) takes exactly the branches
 * the trainer took.
 */
export interface Bins {
  /** Per feature, ascending float32 upper edges; a value v falls in bin b (1-based) when edges[b-2] < v <= edges[b-1]. */
  edges: Float32Array[];
  /** Row-major bin indices, rows × features: histograms read a row's features together. */
  codes: Uint8Array;
  /** The same, feature-major: partitioning a node reads one feature of many rows. */
  columns: Uint8Array;
  rows: number;
  features: number;
}

export const MAX_BINS = 255;

/**
 * Up to maxBins value bins per feature (bin 0 is for missing values), cut at
 * quantiles of the distinct training values. A categorical feature with at
 * most maxBins values gets one bin per value, each edge the value itself
 * (isCategoryBinning), so a set of its bins is a set of its values.
 */
export function fitEdges(d: Dataset, maxBins = MAX_BINS, categorical: boolean[] = []): Float32Array[] {
  const edges: Float32Array[] = [];
  distinctValues(d.x, d.rows, d.features, (f, n, distinct, counts) => {
    const nd = distinct.length;
    const capacity = maxBins;
    const cut: number[] = [];
    if (nd <= capacity) {
      for (let i = 0; i < nd; i++) cut.push(distinct[i]);
    } else {
      // Equal-frequency cuts over the distinct values, each at a distinct value.
      let seen = 0;
      let next = n / capacity;
      for (let i = 0; i < nd; i++) {
        seen += counts[i];
        if (seen >= next || i === nd - 1) {
          cut.push(distinct[i]);
          while (next <= seen) next += n / capacity;
        }
      }
    }
    // The last edge is +Infinity so unseen large values still land in a bin (a category's never reach a set: binning puts them last).
    if (!(categorical[f] && nd <= capacity && nd > 0)) cut[cut.length - 1] = Number.POSITIVE_INFINITY;
    edges.push(Float32Array.from(cut.length ? cut : [Number.POSITIVE_INFINITY]));
  });
  return edges;
}

/** Every value's bin (0 for missing, else 1 + the first edge >= the value, compared in float32), by ml/gbdt/wasm/kernels.ts's binFeature. */
export function applyBins(d: Dataset, edges: Float32Array[]): Bins {
  return { edges, ...binInKernels(d.x, d.rows, edges), rows: d.rows, features: d.features };
}
