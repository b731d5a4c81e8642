import { FEATURE_BYTES, kernelsOver, Views, type KernelExports, type KernelSharedMemory } from './kernels';
import { MAX_THREADS } from './limits';

/**
 * One thread's share of growing a tree (ml/gbdt/grow.ts): a group of the
 * tree's features to build histograms of and find splits on. Each thread works
 * in a memory of its own, a replica of the grower's (the same data at the same
 * offsets; ml/gbdt/team.ts copies what a task needs into it), and partitions
 * every node whole in it (the same rows in the same order in every replica):
 * so a task needs no other thread's results before it ends, and a whole level
 * of the tree is one task. A share's results do not depend on which thread
 * runs it, or on how many share the rest, so a model is the same bytes for any
 * number of threads.
 */

/** i32 slots of the task block (in each replica). */
export const enum Slot {
  OP = 0,
  /** How many nodes the task covers, and where their table is. */
  BATCH,
  TABLE,
  /** Whether the tree has every feature, in order (the build needs no feature list then). */
  ALL_FEATURES,
  /** Per share, then one more: where its group starts in the tree's feature list. */
  GROUPS,
}

export const TASK_BLOCK_BYTES = 4 * (Slot.GROUPS + MAX_THREADS + 1);

/** i32 slots of the team's control block (a SharedArrayBuffer of its own). */
export const enum Control {
  /** Bumped by the grower for each task; a thread waits on it. */
  SEQ = 0,
  /** Set by a thread whose share threw; its message follows the slots. */
  FAILED,
  /** Per thread, the SEQ of the last task it finished. */
  DONE,
}

export const CONTROL_BYTES = 4 * (Control.DONE + MAX_THREADS);
export const ERROR_BYTES = 512;

/** i32 fields of a node's entry in the table. */
export const enum Field {
  START = 0,
  END,
  /** The split's feature's column (feature-major bins). */
  COLUMN,
  /**
   * Histograms (byte offsets): the node's, and a spare. Where the children are
   * splittable the smaller one's is built in the spare, and the larger one's is
   * the node's less it, in the node's own; LEFT and RIGHT say which is whose.
   */
  PARENT,
  SPARE,
  LEFT,
  RIGHT,
  SPLITTABLE,
  /** How many of its rows went left. */
  COUNT,
}

/** f64s of an entry (byte offset): the (gradient, hessian) sums of the root, or of the left and right children. */
export const SUMS = 48;
/** Which bins go left at the node's split, a byte each. */
export const GOES_LEFT = 80;
/** Per child and share, the split it found (OUT_BYTES each). */
const OUT = GOES_LEFT + 256;
const OUT_BYTES = 80;
/** Most category values on one side of a set split. */
const MAX_SET = 32;

/** Bytes of a node's entry in the table, for this many shares. */
export const entryBytes = (shares: number) => OUT + 2 * shares * OUT_BYTES;

export const enum Op {
  /** Gather the rows' gradients (order[0..END) of entry 0, their sums to its SUMS), build the root's histogram into LEFT, and find its split (child 0). */
  ROOT = 1,
  /** Each node: partition its rows, left first (COUNT); where SPLITTABLE, build the smaller child, subtract for the larger, find both children's splits. */
  LEVEL,
  STOP,
}

export interface Split {
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

export interface SplitParams {
  lambda: number;
  minChildWeight: number;
  minSplitGain: number;
}

/** Where the grower's arrays are (byte offsets, the same in every replica) and what a share needs to know of the data. */
export interface ShareLayout {
  block: number;
  codes: number;
  order: number;
  /** Room for a partition's right rows. */
  scratch: number;
  gh: number;
  grad: number;
  hess: number;
  featureList: number;
  spans: number;
  /** bestThreshold's scratch (32 bytes). */
  found: number;
  features: number;
  shares: number;
  /** Per feature, its bins after the missing-value one (edges' length). */
  nBins: number[];
  /** Features split by sets of values (their bins are their values). */
  categorical: boolean[];
  params: SplitParams;
}

/** Categories with at most this many values present in a node are split one value against the rest (LightGBM's max_cat_to_onehot). */
const MAX_ONE_HOT = 4;
/** Beyond that, the values sorted by gradient/(hessian + CAT_SMOOTH) are cut into a prefix and the rest (LightGBM's cat_smooth), trying up to MAX_SET values from each end. */
const CAT_SMOOTH = 10;
const FEATURE_FLOATS = FEATURE_BYTES / 8;

/** The split share s found for child c of the node at entry `at` (in the share's replica), if any. */
export function shareSplit(v: Views, at: number, c: number, s: number, shares: number): Split | undefined {
  const o = at + OUT + (c * shares + s) * OUT_BYTES;
  const feature = v.i32[o / 4 + 6];
  if (feature < 0) return undefined;
  const split: Split = { gain: v.f64[o / 8], gl: v.f64[o / 8 + 1], hl: v.f64[o / 8 + 2], feature, bin: v.i32[o / 4 + 7], missingLeft: v.i32[o / 4 + 8] === 1 };
  const setSize = v.i32[o / 4 + 9];
  if (setSize > 0) split.set = Array.from(v.u8.subarray(o + 40, o + 40 + setSize));
  return split;
}

export class GrowShare {
  private readonly kernels: KernelExports;
  private readonly v: Views;
  private readonly entry: number;

  constructor(
    memory: KernelSharedMemory,
    private readonly at: ShareLayout,
  ) {
    this.kernels = kernelsOver(memory);
    this.v = new Views(memory);
    this.entry = entryBytes(at.shares);
  }

  /** The task in the block. */
  op(): Op {
    return this.v.refresh().i32[this.at.block / 4 + Slot.OP];
  }

  /** Runs share s of the task in the block. */
  run(s: number): void {
    const { i32 } = this.v.refresh();
    const b = this.at.block / 4;
    const op = i32[b + Slot.OP];
    const table = i32[b + Slot.TABLE];
    const [j0, j1] = [i32[b + Slot.GROUPS + s], i32[b + Slot.GROUPS + s + 1]];
    if (op === Op.ROOT) return this.root(table, j0, j1, s);
    for (let e = 0; e < i32[b + Slot.BATCH]; e++) this.level(table + e * this.entry, j0, j1, s);
  }

  private field(at: number, f: Field): number {
    return this.v.i32[at / 4 + f];
  }

  private sum(at: number, k: number): number {
    return this.v.f64[(at + SUMS) / 8 + k];
  }

  private root(at: number, j0: number, j1: number, s: number): void {
    const { gh, order, grad, hess } = this.at;
    this.kernels.gatherGradients(gh, order, grad, hess, this.field(at, Field.END), at + SUMS);
    const hist = this.field(at, Field.LEFT);
    this.kernels.clear(hist, this.at.spans + 8 * j0, j1 - j0);
    this.accumulate(hist, order, 0, this.field(at, Field.END), j0, j1);
    this.search(at, 0, s, hist, this.sum(at, 0), this.sum(at, 1), j0, j1);
  }

  /** Splits the node at `at`: its rows partitioned in this replica's order, and where its children are splittable, their histograms and best splits on the features j0..j1, as share s's. */
  private level(at: number, j0: number, j1: number, s: number): void {
    const start = this.field(at, Field.START);
    const end = this.field(at, Field.END);
    const { order, scratch } = this.at;
    const l = this.kernels.partition(order, scratch, this.field(at, Field.COLUMN), at + GOES_LEFT, start, end);
    this.v.i32[at / 4 + Field.COUNT] = l;
    if (this.field(at, Field.SPLITTABLE) === 0) return;
    const smallIsLeft = l <= end - start - l;
    const [small, large] = [this.field(at, Field.SPARE), this.field(at, Field.PARENT)];
    this.v.i32[at / 4 + Field.LEFT] = smallIsLeft ? small : large;
    this.v.i32[at / 4 + Field.RIGHT] = smallIsLeft ? large : small;
    // Only the bins each feature has: the rest are never read.
    this.kernels.clear(small, this.at.spans + 8 * j0, j1 - j0);
    if (smallIsLeft) this.accumulate(small, order, start, start + l, j0, j1);
    else this.accumulate(small, order, start + l, end, j0, j1);
    this.kernels.subtract(large, large, small, this.at.spans + 8 * j0, j1 - j0);
    this.search(at, 0, s, this.field(at, Field.LEFT), this.sum(at, 0), this.sum(at, 1), j0, j1);
    this.search(at, 1, s, this.field(at, Field.RIGHT), this.sum(at, 2), this.sum(at, 3), j0, j1);
  }

  private accumulate(hist: number, rows: number, start: number, end: number, j0: number, j1: number): void {
    const { codes, gh, features, featureList, block } = this.at;
    // Every feature is the common case, without the indirection: this loop is most of the training time.
    if (this.v.i32[block / 4 + Slot.ALL_FEATURES] === 1) this.kernels.buildAll(hist, codes, rows, gh, start, end, features, j0, j1);
    else this.kernels.buildSome(hist, codes, rows, gh, start, end, features, featureList + 4 * j0, j1 - j0);
  }

  /** The best split of a node (histogram hist, sums g and h) on the features j0..j1, written to the entry's slot for child c and share s. */
  private search(at: number, c: number, s: number, hist: number, g: number, h: number, j0: number, j1: number): void {
    const { lambda, minChildWeight, minSplitGain } = this.at.params;
    const { i32, f64, u8 } = this.v;
    const parent = (g * g) / (h + lambda);
    let best: Split | undefined;
    let bestGain = minSplitGain;
    const found = this.at.found;
    for (let j = j0; j < j1; j++) {
      const f = i32[this.at.featureList / 4 + j];
      if (this.at.categorical[f]) {
        const set = this.bestSet(hist, f, g, h, parent, bestGain);
        if (set) [best, bestGain] = [set, set.gain];
        continue;
      }
      if (this.kernels.bestThreshold(hist + f * FEATURE_BYTES, this.at.nBins[f], g, h, parent, lambda, minChildWeight, bestGain, found) === 0) continue;
      const o = found / 8;
      bestGain = f64[o];
      best = { gain: f64[o], feature: f, bin: i32[2 * o + 6], missingLeft: i32[2 * o + 7] === 1, gl: f64[o + 1], hl: f64[o + 2] };
    }
    const o = at + OUT + (c * this.at.shares + s) * OUT_BYTES;
    i32[o / 4 + 6] = best ? best.feature : -1;
    if (!best) return;
    f64[o / 8] = best.gain;
    f64[o / 8 + 1] = best.gl;
    f64[o / 8 + 2] = best.hl;
    i32[o / 4 + 7] = best.bin;
    i32[o / 4 + 8] = best.missingLeft ? 1 : 0;
    i32[o / 4 + 9] = best.set?.length ?? 0;
    if (best.set) u8.set(best.set, o + 40);
  }

  /** The best set of a categorical feature's bins to send left, under the same gain as threshold splits. */
  private bestSet(node: number, f: number, g: number, h: number, parent: number, bestGain: number): Split | undefined {
    const hist = this.v.f64;
    const off = node / 8 + f * FEATURE_FLOATS;
    const gm = hist[off];
    const hm = hist[off + 1];
    const present: number[] = [];
    for (let b = 1; b <= this.at.nBins[f]; b++) if (hist[off + 2 * b + 1] > 0) present.push(b);
    if (present.length < 2) return undefined;
    let best: Split | undefined;
    const directions = hm === 0 ? 1 : 2;
    const { lambda, minChildWeight } = this.at.params;
    // A candidate set is a run of `bins`, summed in its order: no array is made for one that is not the best (this runs for every node and category feature).
    const consider = (bins: number[], from: number, to: number) => {
      let gl = 0;
      let hl = 0;
      for (let i = from; i < to; i++) {
        gl += hist[off + 2 * bins[i]];
        hl += hist[off + 2 * bins[i] + 1];
      }
      for (let m = 0; m < directions; m++) {
        const missingLeft = m === 0;
        const GL = missingLeft ? gl + gm : gl;
        const HL = missingLeft ? hl + hm : hl;
        const gain = this.kernels.splitGain(g, h, GL, HL, parent, lambda, minChildWeight);
        if (gain > bestGain) {
          bestGain = gain;
          best = { gain, feature: f, bin: 0, missingLeft, gl: GL, hl: HL, set: bins.slice(from, to).sort((a, b) => a - b) };
        }
      }
    };
    if (present.length <= MAX_ONE_HOT) for (let i = 0; i < present.length; i++) consider(present, i, i + 1);
    else {
      const ratio = (b: number) => hist[off + 2 * b] / (hist[off + 2 * b + 1] + CAT_SMOOTH);
      const sorted = present.sort((a, b) => ratio(a) - ratio(b) || a - b);
      const most = Math.min(MAX_SET, sorted.length - 1);
      for (let k = 1; k <= most; k++) {
        consider(sorted, 0, k);
        consider(sorted, sorted.length - k, sorted.length);
      }
    }
    return best;
  }
}
