import type { Dataset } from '../dataset';
import { binInKernels } from './kernels';

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
  const values = new Float32Array(d.rows);
  for (let f = 0; f < d.features; f++) {
    let n = 0;
    for (let r = 0; r < d.rows; r++) {
      const v = d.x[r * d.features + f];
      if (!Number.isNaN(v)) values[n++] = v;
    }
    const sorted = sortFloat32(values.subarray(0, n));
    const distinct: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < n; i++) {
      if (i === 0 || sorted[i] !== sorted[i - 1]) {
        distinct.push(sorted[i]);
        counts.push(1);
      } else counts[counts.length - 1]++;
    }
    const capacity = maxBins;
    const cut: number[] = [];
    if (distinct.length <= capacity) {
      cut.push(...distinct);
    } else {
      // Equal-frequency cuts over the distinct values, each at a distinct value.
      let seen = 0;
      let next = n / capacity;
      for (let i = 0; i < distinct.length; i++) {
        seen += counts[i];
        if (seen >= next || i === distinct.length - 1) {
          cut.push(distinct[i]);
          while (next <= seen) next += n / capacity;
        }
      }
    }
    // The last edge is +Infinity so unseen large values still land in a bin (a category's never reach a set: binning puts them last).
    if (!(categorical[f] && distinct.length <= capacity && distinct.length > 0)) cut[cut.length - 1] = Number.POSITIVE_INFINITY;
    edges.push(Float32Array.from(cut.length ? cut : [Number.POSITIVE_INFINITY]));
  }
  return edges;
}

/**
 * The values ascending, as TypedArray#sort orders them (-0 before +0; no NaN
 * here), by an LSD radix sort of their bits, 8 at a time: a fifth of
 * TypedArray#sort's time, and binning sorts every feature.
 */
export function sortFloat32(values: Float32Array): Float32Array {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  let keys = new Uint32Array(n);
  let spare = new Uint32Array(n);
  // Flipped so that unsigned order is numeric order: negatives entirely, positives their sign bit.
  for (let i = 0; i < n; i++) keys[i] = bits[i] & 0x80000000 ? ~bits[i] >>> 0 : (bits[i] | 0x80000000) >>> 0;
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(keys[i] >>> shift) & 255]++;
    // A byte every value shares (the high ones of small integers, say) orders nothing.
    if (counts[(keys[0] >>> shift) & 255] === n) continue;
    for (let b = 0, sum = 0; b < 256; b++) {
      const c = counts[b];
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) spare[counts[(keys[i] >>> shift) & 255]++] = keys[i];
    [keys, spare] = [spare, keys];
  }
  const out = new Float32Array(n);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) outBits[i] = keys[i] & 0x80000000 ? (keys[i] & 0x7fffffff) >>> 0 : ~keys[i] >>> 0;
  return out;
}

/** Every value's bin (0 for missing, else 1 + the first edge >= the value, compared in float32), by ml/gbdt/wasm/kernels.ts's binFeature. */
export function applyBins(d: Dataset, edges: Float32Array[]): Bins {
  return { edges, ...binInKernels(d.x, d.rows, edges), rows: d.rows, features: d.features };
}
