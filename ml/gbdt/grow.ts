import type { Bins } from './binning';
import { FEATURE_BYTES, KernelMemory } from './kernels';
import type { Tree } from './tree';

export interface GrowParams {
  maxDepth: number;
  maxLeaves: number;
  lambda: number;
  minChildWeight: number;
  minSplitGain: number;
  learningRate: number;
  /** Features split by category sets rather than thresholds: their bins are their values (binning.ts). */
  categorical?: boolean[];
}

/** Categories with at most this many values present in a node are split one value against the rest (LightGBM's max_cat_to_onehot). */
const MAX_ONE_HOT = 4;
/** Beyond that, the values sorted by gradient/(hessian + CAT_SMOOTH) are cut into a prefix and the rest (LightGBM's cat_smooth), trying up to MAX_CAT_SET values from each end. */
const CAT_SMOOTH = 10;
const MAX_CAT_SET = 32;

interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
  /** Gradient and hessian sums of the left child. */
  gl: number;
  hl: number;
  /** A categorical split's bins that go left. */
  set?: number[];
}

interface Node {
  id: number;
  start: number;
  end: number;
  depth: number;
  g: number;
  h: number;
  /** Byte offset of the node's histogram in the kernels' memory, or NONE. */
  hist: number;
  split?: Split;
}

const BINS = 256;
/** Float64s of one feature's histogram: a (gradient, hessian) pair per bin. */
const FEATURE_FLOATS = FEATURE_BYTES / 8;
const NONE = -1;

/**
 * Grows one tree best-first (largest gain next) under both a depth and a leaf
 * limit, from gradient histograms; the larger child's histogram is the parent's
 * minus the smaller's.
 */
export class TreeGrower {
  /** The hot loops run in WebAssembly (ml/gbdt/wasm/kernels.ts) over this memory; these are byte offsets into it. */
  private readonly mem = new KernelMemory();
  private readonly codes: number;
  private readonly columns: number;
  private readonly order: number;
  private readonly scratch: number;
  /** Per row, its gradient and hessian side by side, for the tree being grown, gathered from grad and hess (float64s by row). */
  private readonly gh: number;
  private readonly grad: number;
  private readonly hess: number;
  /** Which bins go left at the split being applied, a byte each. */
  private readonly leftBins: number;
  /** This tree's features (i32s), and per feature the span of its histogram that has bins (i32 pairs: offset, bytes). */
  private readonly featureList: number;
  private readonly spans: number;
  /** Where bestThreshold writes the split it found. */
  private readonly found: number;
  private readonly pool: number[] = [];

  constructor(
    private readonly bins: Bins,
    private readonly p: GrowParams,
  ) {
    const { rows: N, features: F } = bins;
    const m = this.mem;
    this.codes = m.alloc(N * F);
    this.columns = m.alloc(N * F);
    this.order = m.alloc(4 * N);
    this.scratch = m.alloc(4 * N);
    this.gh = m.alloc(16 * N);
    this.grad = m.alloc(8 * N);
    this.hess = m.alloc(8 * N);
    this.leftBins = m.alloc(BINS);
    this.featureList = m.alloc(4 * F);
    this.spans = m.alloc(8 * F);
    this.found = m.alloc(32);
    m.u8.set(bins.codes, this.codes);
    m.u8.set(bins.columns, this.columns);
  }

  /** A histogram's byte offset; only the bins each feature has are ever read, and build or subtraction writes all of them first. */
  private histogram(): number {
    return this.pool.pop() ?? this.mem.alloc(this.bins.features * FEATURE_BYTES);
  }

  private build(hist: number, start: number, end: number, features: Int32Array): void {
    const { f64, kernels } = this.mem;
    for (let j = 0; j < features.length; j++) {
      const o = hist / 8 + features[j] * FEATURE_FLOATS;
      f64.fill(0, o, o + (this.bins.edges[features[j]].length + 1) * 2);
    }
    // Every feature is the common case, without the indirection: this loop is most of the training time.
    if (features.length === this.bins.features) kernels.buildAll(hist, this.codes, this.order, this.gh, start, end, this.bins.features);
    else kernels.buildSome(hist, this.codes, this.order, this.gh, start, end, this.bins.features, this.featureList, features.length);
  }

  /** The best set of a categorical feature's bins to send left, under the same gain as threshold splits. */
  private bestSet(node: Node, f: number, parent: number, bestGain: number): Split | undefined {
    const hist = this.mem.f64;
    const off = node.hist / 8 + f * FEATURE_FLOATS;
    const gm = hist[off];
    const hm = hist[off + 1];
    const present: number[] = [];
    for (let b = 1; b <= this.bins.edges[f].length; b++) if (hist[off + 2 * b + 1] > 0) present.push(b);
    if (present.length < 2) return undefined;
    const candidates: number[][] = [];
    if (present.length <= MAX_ONE_HOT) for (const b of present) candidates.push([b]);
    else {
      const ratio = (b: number) => hist[off + 2 * b] / (hist[off + 2 * b + 1] + CAT_SMOOTH);
      const sorted = present.slice().sort((a, b) => ratio(a) - ratio(b) || a - b);
      const most = Math.min(MAX_CAT_SET, sorted.length - 1);
      for (let k = 1; k <= most; k++) candidates.push(sorted.slice(0, k), sorted.slice(sorted.length - k));
    }
    let best: Split | undefined;
    const directions = hm === 0 ? 1 : 2;
    for (const set of candidates) {
      let gl = 0;
      let hl = 0;
      for (const b of set) {
        gl += hist[off + 2 * b];
        hl += hist[off + 2 * b + 1];
      }
      for (let m = 0; m < directions; m++) {
        const missingLeft = m === 0;
        const GL = missingLeft ? gl + gm : gl;
        const HL = missingLeft ? hl + hm : hl;
        const gain = this.mem.kernels.splitGain(node.g, node.h, GL, HL, parent, this.p.lambda, this.p.minChildWeight);
        if (gain > bestGain) {
          bestGain = gain;
          best = { gain, feature: f, bin: 0, missingLeft, gl: GL, hl: HL, set: set.slice().sort((a, b) => a - b) };
        }
      }
    }
    return best;
  }

  private bestSplit(node: Node, features: Int32Array): Split | undefined {
    const { lambda, minChildWeight } = this.p;
    const parent = (node.g * node.g) / (node.h + lambda);
    let best: Split | undefined;
    let bestGain = this.p.minSplitGain;
    const { kernels } = this.mem;
    for (let j = 0; j < features.length; j++) {
      const f = features[j];
      if (this.p.categorical?.[f]) {
        const set = this.bestSet(node, f, parent, bestGain);
        if (set) [best, bestGain] = [set, set.gain];
        continue;
      }
      const hist = node.hist + f * FEATURE_BYTES;
      if (kernels.bestThreshold(hist, this.bins.edges[f].length, node.g, node.h, parent, lambda, minChildWeight, bestGain, this.found) === 0) continue;
      const { f64, i32 } = this.mem;
      const at = this.found / 8;
      bestGain = f64[at];
      best = { gain: f64[at], feature: f, bin: i32[2 * at + 6], missingLeft: i32[2 * at + 7] === 1, gl: f64[at + 1], hl: f64[at + 2] };
    }
    return best;
  }

  /**
   * Grows a tree on the given rows. onLeaf is called with each leaf's value and
   * its rows, so the caller can update their scores without walking the tree.
   */
  grow(rows: Uint32Array, grad: Float64Array, hess: Float64Array, features: Int32Array, onLeaf?: (value: number, rows: Uint32Array) => void): Tree {
    const { rows: N } = this.bins;
    const m = this.mem;
    m.u32.set(rows, this.order / 4);
    m.f64.set(grad, this.grad / 8);
    m.f64.set(hess, this.hess / 8);
    // In WebAssembly, as every per-row loop here: this method is large, and V8 optimises it only after most trees of a small data set are grown.
    m.kernels.gatherGradients(this.gh, this.order, this.grad, this.hess, rows.length, this.found);
    const g = m.f64[this.found / 8];
    const h = m.f64[this.found / 8 + 1];
    m.i32.set(features, this.featureList / 4);
    for (let j = 0; j < features.length; j++) {
      m.i32[this.spans / 4 + 2 * j] = features[j] * FEATURE_BYTES;
      m.i32[this.spans / 4 + 2 * j + 1] = (this.bins.edges[features[j]].length + 1) * 16;
    }
    const capacity = 2 * this.p.maxLeaves - 1;
    const tree: Tree = {
      feature: new Int32Array(capacity).fill(-1),
      threshold: new Float32Array(capacity),
      bin: new Uint8Array(capacity),
      missingLeft: new Uint8Array(capacity),
      left: new Int32Array(capacity).fill(-1),
      right: new Int32Array(capacity).fill(-1),
      value: new Float32Array(capacity),
      setStart: new Int32Array(capacity).fill(-1),
      setSize: new Int32Array(capacity),
      setBins: new Uint8Array(0),
      setValues: new Float32Array(0),
    };
    const setBins: number[] = [];
    const setValues: number[] = [];
    let nodes = 1;
    const root: Node = { id: 0, start: 0, end: rows.length, depth: 0, g, h, hist: this.histogram() };
    this.build(root.hist, 0, rows.length, features);
    const open: Node[] = [];
    const leafRows: [number, number, number][] = [];
    const consider = (n: Node) => {
      n.split = n.depth < this.p.maxDepth ? this.bestSplit(n, features) : undefined;
      if (n.split) open.push(n);
      else {
        if (n.hist !== NONE) this.pool.push(n.hist);
        leafRows.push([n.id, n.start, n.end]);
      }
      tree.value[n.id] = Math.fround((-n.g / (n.h + this.p.lambda)) * this.p.learningRate);
    };
    consider(root);
    let leaves = 1;
    while (open.length > 0 && leaves < this.p.maxLeaves) {
      let pick = 0;
      for (let i = 1; i < open.length; i++) if (open[i].split!.gain > open[pick].split!.gain) pick = i;
      const node = open.splice(pick, 1)[0];
      const s = node.split!;
      // Stable partition of the node's rows: left first.
      const goesLeft = m.u8.subarray(this.leftBins, this.leftBins + BINS);
      if (s.set) {
        goesLeft.fill(0);
        for (const b of s.set) goesLeft[b] = 1;
      } else goesLeft.fill(1, 1, s.bin + 1).fill(0, s.bin + 1);
      goesLeft[0] = s.missingLeft ? 1 : 0;
      const l = m.kernels.partition(this.order, this.scratch, this.columns + s.feature * N, this.leftBins, node.start, node.end);
      const leftId = nodes++;
      const rightId = nodes++;
      tree.feature[node.id] = s.feature;
      tree.bin[node.id] = s.bin;
      if (s.set) {
        // A categorical feature's bins are its values: bin b holds edges[b - 1] exactly.
        tree.setStart[node.id] = setBins.length;
        tree.setSize[node.id] = s.set.length;
        for (const b of s.set) {
          setBins.push(b);
          setValues.push(this.bins.edges[s.feature][b - 1]);
        }
      } else tree.threshold[node.id] = this.bins.edges[s.feature][s.bin - 1];
      tree.missingLeft[node.id] = s.missingLeft ? 1 : 0;
      tree.left[node.id] = leftId;
      tree.right[node.id] = rightId;
      const depth = node.depth + 1;
      // Children at the depth limit become leaves: they need no histograms.
      const splittable = depth < this.p.maxDepth;
      const histogram = () => (splittable ? this.histogram() : NONE);
      const left: Node = { id: leftId, start: node.start, end: l, depth, g: s.gl, h: s.hl, hist: histogram() };
      const right: Node = { id: rightId, start: l, end: node.end, depth, g: node.g - s.gl, h: node.h - s.hl, hist: histogram() };
      if (splittable) {
        const [small, large] = left.end - left.start <= right.end - right.start ? [left, right] : [right, left];
        this.build(small.hist, small.start, small.end, features);
        m.kernels.subtract(large.hist, node.hist, small.hist, this.spans, features.length);
      }
      this.pool.push(node.hist);
      leaves++;
      consider(left);
      consider(right);
    }
    for (const n of open) {
      if (n.hist !== NONE) this.pool.push(n.hist);
      leafRows.push([n.id, n.start, n.end]);
    }
    const order = m.u32.subarray(this.order / 4, this.order / 4 + N);
    if (onLeaf) for (const [id, start, end] of leafRows) onLeaf(tree.value[id], order.subarray(start, end));
    return {
      feature: tree.feature.slice(0, nodes),
      threshold: tree.threshold.slice(0, nodes),
      bin: tree.bin.slice(0, nodes),
      missingLeft: tree.missingLeft.slice(0, nodes),
      left: tree.left.slice(0, nodes),
      right: tree.right.slice(0, nodes),
      value: tree.value.slice(0, nodes),
      setStart: tree.setStart.slice(0, nodes),
      setSize: tree.setSize.slice(0, nodes),
      setBins: Uint8Array.from(setBins),
      setValues: Float32Array.from(setValues),
    };
  }
}
