// AssemblyScript, compiled to dist/ml/gbdt/wasm/kernels.wasm by `npm run build`
// (asc; see package.json), not by tsc. The tree grower's inner loops make the
// same float64 operations in the same order as plain JavaScript would, so a
// split is the same to the bit, in a fraction of the time (no bounds checks or
// tagging in these loops, and a gradient-hessian pair is added as one f64x2);
// WebAssembly arithmetic is the same on every machine, so are the models.
//
// Memory layout (byte offsets, 16-aligned, owned by ml/gbdt/kernels.ts):
// a histogram is 256 bins × (gradient, hessian) f64 per feature, 4096 bytes a
// feature; gh holds each row's (gradient, hessian); codes are row-major u8
// bins, columns the same feature-major; order and scratch are u32 row lists.

const FEATURE_BYTES: usize = 4096;

/** The heap's start: memory below it holds the module's own data. */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * For the rows order[0..n): each one's (gradient, hessian) side by side in gh,
 * from grad and hess (float64s by row); their sums, in the rows' order, are
 * written to sums (two f64s).
 */
export function gatherGradients(gh: usize, order: usize, grad: usize, hess: usize, n: i32, sums: usize): void {
  let g = 0.0;
  let h = 0.0;
  for (let k: usize = 0; k < <usize>n; k++) {
    const r = <usize>load<u32>(order + (k << 2));
    const gr = load<f64>(grad + (r << 3));
    const hr = load<f64>(hess + (r << 3));
    store<f64>(gh + (r << 4), gr);
    store<f64>(gh + (r << 4), hr, 8);
    g += gr;
    h += hr;
  }
  store<f64>(sums, g);
  store<f64>(sums, h, 8);
}

/** Adds the rows order[start..end) into hist, features f0..f1 of the F a row has. */
export function buildAll(hist: usize, codes: usize, order: usize, gh: usize, start: i32, end: i32, F: i32, f0: i32, f1: i32): void {
  for (let k = start; k < end; k++) {
    const r = <usize>load<u32>(order + (<usize>k << 2));
    const v = v128.load(gh + (r << 4));
    const base = codes + r * <usize>F;
    let o = hist + <usize>f0 * FEATURE_BYTES;
    for (let f = f0; f < f1; f++) {
      const i = o + (<usize>load<u8>(base + <usize>f) << 4);
      v128.store(i, f64x2.add(v128.load(i), v));
      o += FEATURE_BYTES;
    }
  }
}

/** The same for some features only: their indices are the n i32s at features. */
export function buildSome(hist: usize, codes: usize, order: usize, gh: usize, start: i32, end: i32, F: i32, features: usize, n: i32): void {
  for (let k = start; k < end; k++) {
    const r = <usize>load<u32>(order + (<usize>k << 2));
    const v = v128.load(gh + (r << 4));
    const base = codes + r * <usize>F;
    for (let j = 0; j < n; j++) {
      const f = <usize>load<i32>(features + (<usize>j << 2));
      const i = hist + f * FEATURE_BYTES + (<usize>load<u8>(base + f) << 4);
      v128.store(i, f64x2.add(v128.load(i), v));
    }
  }
}

/** out = parent - small over the spans: n pairs of i32 (byte offset into a histogram, bytes), each a multiple of 16. */
export function subtract(out: usize, parent: usize, small: usize, spans: usize, n: i32): void {
  for (let j = 0; j < n; j++) {
    const at = <usize>load<i32>(spans + (<usize>j << 3));
    const end = at + <usize>load<i32>(spans + (<usize>j << 3), 4);
    for (let i = at; i < end; i += 16) v128.store(out + i, f64x2.sub(v128.load(parent + i), v128.load(small + i)));
  }
}

/**
 * Stable partition of order[start..end) by goesLeft[column[row]] (a u8 per
 * bin: 1 left, 0 right), left rows first, in place; scratch is room for the
 * right ones meanwhile. Returns how many go left. No branch on the data: each
 * row is written to both sides and one advances.
 */
export function partition(order: usize, scratch: usize, column: usize, goesLeft: usize, start: i32, end: i32): i32 {
  let l = <usize>start;
  let r: usize = 0;
  for (let k = <usize>start; k < <usize>end; k++) {
    const row = load<u32>(order + (k << 2));
    const left = <usize>load<u8>(goesLeft + <usize>load<u8>(column + <usize>row));
    store<u32>(order + (l << 2), row);
    store<u32>(scratch + (r << 2), row);
    l += left;
    r += 1 - left;
  }
  memory.copy(order + (l << 2), scratch, r << 2);
  return <i32>(l - <usize>start);
}

/** Zeroes the n spans of a histogram (i32 pairs: byte offset into it, bytes), as subtract reads them. */
export function clear(hist: usize, spans: usize, n: i32): void {
  for (let j = 0; j < n; j++) {
    const at = <usize>load<i32>(spans + (<usize>j << 3));
    memory.fill(hist + at, 0, <usize>load<i32>(spans + (<usize>j << 3), 4));
  }
}

/**
 * The gain of sending gradient GL and hessian HL left and the rest of a node
 * (g, h) right; -Infinity where a child would weigh less than minChildWeight.
 * Threshold and category-set splits (ml/gbdt/grow.ts) are judged by it alike.
 */
export function splitGain(g: f64, h: f64, GL: f64, HL: f64, parent: f64, lambda: f64, minChildWeight: f64): f64 {
  const GR = g - GL;
  const HR = h - HL;
  if (HL < minChildWeight || HR < minChildWeight) return -Infinity;
  return 0.5 * ((GL * GL) / (HL + lambda) + (GR * GR) / (HR + lambda) - parent);
}

/**
 * The best threshold split of one feature from its histogram (nBins bins after
 * the missing-value bin), better than bestGain: each bin as the last one left,
 * missing values left and, where the node has any, right. Writes the gain, the
 * left gradient and hessian sums (f64s), the bin and whether missing values go
 * left (i32s) at out, and returns 1; returns 0 when none is better.
 */
export function bestThreshold(hist: usize, nBins: i32, g: f64, h: f64, parent: f64, lambda: f64, minChildWeight: f64, bestGain: f64, out: usize): i32 {
  const gm = load<f64>(hist);
  const hm = load<f64>(hist, 8);
  let gl = 0.0;
  let hl = 0.0;
  let found = 0;
  // The last bin cannot be a split point: nothing would go right.
  const directions = hm == 0 ? 1 : 2;
  for (let b = 1; b < nBins; b++) {
    const gb = load<f64>(hist + (<usize>b << 4));
    const hb = load<f64>(hist + (<usize>b << 4), 8);
    // An empty bin after the first moves nothing left: its candidates are the last bin's, which were not better.
    if (b > 1 && gb == 0 && hb == 0) continue;
    gl += gb;
    hl += hb;
    for (let m = 0; m < directions; m++) {
      const GL = m == 0 ? gl + gm : gl;
      const HL = m == 0 ? hl + hm : hl;
      const gain = splitGain(g, h, GL, HL, parent, lambda, minChildWeight);
      if (gain > bestGain) {
        bestGain = gain;
        store<f64>(out, gain);
        store<f64>(out, GL, 8);
        store<f64>(out, HL, 16);
        store<i32>(out, b, 24);
        store<i32>(out, m == 0 ? 1 : 0, 28);
        found = 1;
      }
    }
  }
  return found;
}

// The objectives' gradients where they need exp(): this module's exp is
// about three times as fast as V8's; the two differ in the last bit for some
// inputs (both are within an ulp of the true value).

/** Logistic loss, per row: p = 1 / (1 + exp(-raw)), gradient p - y, hessian p(1 - p), at least 1e-16. */
export function logisticGradients(y: usize, raw: usize, grad: usize, hess: usize, n: i32): void {
  for (let i: usize = 0; i < <usize>n; i++) {
    const p = 1.0 / (1.0 + Math.exp(-load<f64>(raw + (i << 3))));
    store<f64>(grad + (i << 3), p - load<f64>(y + (i << 3)));
    store<f64>(hess + (i << 3), max(p * (1.0 - p), 1e-16));
  }
}

/** Poisson loss, per row: gradient exp(raw) - y, hessian exp(raw + maxDeltaStep) (XGBoost's count:poisson). */
export function poissonGradients(y: usize, raw: usize, grad: usize, hess: usize, n: i32, maxDeltaStep: f64): void {
  for (let i: usize = 0; i < <usize>n; i++) {
    const r = load<f64>(raw + (i << 3));
    store<f64>(grad + (i << 3), Math.exp(r) - load<f64>(y + (i << 3)));
    store<f64>(hess + (i << 3), Math.exp(r + maxDeltaStep));
  }
}

/**
 * Sorts n float32s at values in place, ascending as TypedArray#sort orders
 * them (-0 before +0; no NaN), by an LSD radix sort of their bits, 8 at a
 * time; spare is room for n more and buckets for 256 u32s. Then writes the
 * distinct values to distinct (float32s) and how many times each occurs to
 * counts (u32s), and returns how many distinct values there are.
 */
export function sortDistinct(values: usize, spare: usize, n: i32, buckets: usize, distinct: usize, counts: usize): i32 {
  const N = <usize>n;
  // Flipped so that unsigned order is numeric order: negatives entirely, positives their sign bit.
  for (let i: usize = 0; i < N; i++) {
    const b = load<u32>(values + (i << 2));
    store<u32>(values + (i << 2), (b & 0x80000000) != 0 ? ~b : b | 0x80000000);
  }
  let keys = values;
  let other = spare;
  for (let shift: u32 = 0; shift < 32; shift += 8) {
    memory.fill(buckets, 0, 256 << 2);
    for (let i: usize = 0; i < N; i++) {
      const at = buckets + (<usize>((load<u32>(keys + (i << 2)) >>> shift) & 255) << 2);
      store<u32>(at, load<u32>(at) + 1);
    }
    // A byte every value shares (the high ones of small integers, say) orders nothing.
    if (N == 0 || load<u32>(buckets + (<usize>((load<u32>(keys) >>> shift) & 255) << 2)) == <u32>N) continue;
    let sum: u32 = 0;
    for (let b: usize = 0; b < 256; b++) {
      const c = load<u32>(buckets + (b << 2));
      store<u32>(buckets + (b << 2), sum);
      sum += c;
    }
    for (let i: usize = 0; i < N; i++) {
      const k = load<u32>(keys + (i << 2));
      const at = buckets + (<usize>((k >>> shift) & 255) << 2);
      const to = load<u32>(at);
      store<u32>(at, to + 1);
      store<u32>(other + (<usize>to << 2), k);
    }
    const t = keys;
    keys = other;
    other = t;
  }
  // Distinct as float32s compare (-0 equals +0: the first of them stands for both).
  let nd: usize = 0;
  let previous: f32 = 0;
  for (let i: usize = 0; i < N; i++) {
    const k = load<u32>(keys + (i << 2));
    const v = reinterpret<f32>((k & 0x80000000) != 0 ? k & 0x7fffffff : ~k);
    store<f32>(values + (i << 2), v);
    if (i == 0 || v != previous) {
      store<f32>(distinct + (nd << 2), v);
      store<u32>(counts + (nd << 2), 1);
      nd++;
    } else store<u32>(counts + ((nd - 1) << 2), load<u32>(counts + ((nd - 1) << 2)) + 1);
    previous = v;
  }
  return <i32>nd;
}

/**
 * Bins feature f's values (rows float64s, one per row) into codes (row-major,
 * features per row) and columns (feature-major): 0 for NaN, else 1 + the first
 * of the nEdges ascending float32 edges at or above the value taken as float32.
 */
export function binFeature(values: usize, rows: i32, features: i32, f: i32, edges: usize, nEdges: i32, codes: usize, columns: usize): void {
  const F = <usize>features;
  for (let r: usize = 0; r < <usize>rows; r++) {
    const v = load<f64>(values + (r << 3));
    let b: i32 = 0;
    if (v == v) {
      // The first edge >= v (a value above every edge takes the last), by a binary search without branches to mispredict.
      const v32 = <f32>v;
      let base: i32 = 0;
      let n = nEdges;
      while (n > 1) {
        const half = n >> 1;
        base = select<i32>(base + half, base, load<f32>(edges + (<usize>(base + half) << 2)) < v32);
        n -= half;
      }
      base += select<i32>(1, 0, load<f32>(edges + (<usize>base << 2)) < v32);
      b = min(base, nEdges - 1) + 1;
    }
    store<u8>(codes + r * F + <usize>f, <u8>b);
    store<u8>(columns + <usize>f * <usize>rows + r, <u8>b);
  }
}
