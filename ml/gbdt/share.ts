import { FEATURE_BYTES, kernelsOver, type KernelExports, type KernelSharedMemory } from './kernels';
import { MAX_THREADS } from './limits';

/**
 * One thread's share of growing a tree (ml/gbdt/grow.ts): a part of each
 * node's rows to partition, and a group of the tree's features to build
 * histograms of and find splits on. A task covers a batch of nodes (a whole
 * level of the tree where the grower can), so the threads meet twice per level
 * rather than twice per node. The training's threads (ml/gbdt/team.ts) each
 * run their share on the same memory; a share's work and results do not
 * depend on which thread runs it, or on how many share the rest, so a model
 * is the same bytes for any number of threads.
 *
 * What to do is in the task block and its node table, in the kernels' memory
 * (offsets below): the grower writes them, every share reads them.
 */

/** i32 slots of the task block. */
export const enum Slot {
  /** Bumped by the grower for each task; a thread waits on it. */
  SEQ = 0,
  OP = 1,
  /** Set by a thread whose share threw; its message is at ERROR. */
  FAILED = 2,
  /** Per thread, the SEQ of the last task it finished. */
  DONE = 4,
  /** How many nodes the task covers, and where their table is. */
  BATCH = DONE + MAX_THREADS,
  TABLE,
  /** Whether the tree has every feature, in order (the build needs no feature list then). */
  ALL_FEATURES,
  /** Op.CHILDREN by whole nodes (1), each share taking the next one from NEXT, or by feature groups (0). */
  BY_NODE,
  NEXT,
  /** Per share, then one more: where its group starts in the tree's feature list. */
  GROUPS,
}

/** A failing share's message (bytes from the block's start). */
const ERROR = 256;
const ERROR_BYTES = 256;
export const TASK_BLOCK_BYTES = ERROR + ERROR_BYTES;

/** i32 fields of a node's entry in the table. */
export const enum Field {
  START = 0,
  END,
  /** The split's feature's column (feature-major bins). */
  COLUMN,
  /** Histograms (byte offsets): the node's, and its children's (where they are above the depth limit). */
  PARENT,
  LEFT,
  RIGHT,
  SMALL_IS_LEFT,
  SPLITTABLE,
  /** Per share: how many of its part's rows went left. */
  COUNTS,
}

/** f64s of an entry (byte offset): the (gradient, hessian) sums of the root, or of the left and right children. */
export const SUMS = 96;
/** Which bins go left at the node's split, a byte each. */
export const GOES_LEFT = 128;
/** Per child and share, the split it found (OUT_BYTES each). */
const OUT = GOES_LEFT + 256;
const OUT_BYTES = 80;
/** Most category values on one side of a set split. */
const MAX_SET = 32;

/** Bytes of a node's entry in the table, for this many shares. */
export const entryBytes = (shares: number) => OUT + 2 * shares * OUT_BYTES;

export const enum Op {
  /** Build the root's histogram (entry 0) from order[0..END) into LEFT, and find its split (child 0). */
  ROOT = 1,
  /** Each node: partition the share's part of order[START..END) into the left and right lists; count the left. */
  PARTITION,
  /** Each node: place the share's lists in order; where SPLITTABLE, build the smaller child, subtract for the larger, find both children's splits. */
  CHILDREN,
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

/** Where the grower's arrays are (byte offsets) and what a share needs to know of the data. */
export interface ShareLayout {
  block: number;
  codes: number;
  order: number;
  left: number;
  right: number;
  gh: number;
  featureList: number;
  spans: number;
  /** bestThreshold's scratch, per share (32 bytes each). */
  found: number;
  rows: number;
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

/** Share s's part of n things split among shares: [from, to). */
export const partOf = (n: number, shares: number, s: number): [number, number] => [Math.floor((s * n) / shares), Math.floor(((s + 1) * n) / shares)];

export class GrowShare {
  private readonly kernels: KernelExports;
  private f64!: Float64Array;
  private i32!: Int32Array;
  private u32!: Uint32Array;
  private u8!: Uint8Array;
  private readonly b: number;
  private readonly entry: number;
  /** The share this thread is running (its scratch is bestThreshold's found + 32 × thread). */
  private thread = 0;

  constructor(
    private readonly memory: KernelSharedMemory,
    private readonly at: ShareLayout,
  ) {
    this.kernels = kernelsOver(memory);
    this.b = at.block / 4;
    this.entry = entryBytes(at.shares);
    this.views();
  }

  /** The task block's i32s (SEQ, DONE, …), to wait on with Atomics. */
  get control(): Int32Array {
    this.views();
    return this.i32;
  }

  /** Runs share s of the task in the block. */
  run(s: number): void {
    this.views();
    this.thread = s;
    const op = this.i32[this.b + Slot.OP];
    const table = this.i32[this.b + Slot.TABLE];
    const n = op === Op.ROOT ? 1 : this.i32[this.b + Slot.BATCH];
    const [j0, j1] = this.group(s);
    for (let e = 0; e < n; e++) {
      const at = table + e * this.entry;
      if (op === Op.ROOT) this.root(at, j0, j1, s);
      else if (op === Op.PARTITION) this.partition(s, at);
      else if (op === Op.CHILDREN) this.place(s, at);
    }
    if (op !== Op.CHILDREN) return;
    if (this.i32[this.b + Slot.BY_NODE] === 0) {
      for (let e = 0; e < n; e++) if (this.field(table + e * this.entry, Field.SPLITTABLE) === 1) this.children(table + e * this.entry, j0, j1, s);
      return;
    }
    // Whole nodes, each taken by whichever share is free: a node's rows then pass through one thread's cache, not every thread's.
    const all = this.i32[this.b + Slot.GROUPS + this.at.shares];
    for (let e; (e = Atomics.add(this.i32, this.b + Slot.NEXT, 1)) < n; ) {
      const at = table + e * this.entry;
      if (this.field(at, Field.SPLITTABLE) === 0) continue;
      this.children(at, 0, all, 0);
      for (let t = 1; t < this.at.shares; t++) for (const c of [0, 1]) this.i32[(at + OUT + (c * this.at.shares + t) * OUT_BYTES) / 4 + 6] = -1;
    }
  }

  /** The best split the shares found for child c of the node at entry `at`, as one scan of all the features would find it: the first of the largest gains. */
  best(at: number, c: number): Split | undefined {
    this.views();
    let best: Split | undefined;
    for (let s = 0; s < this.at.shares; s++) {
      const o = at + OUT + (c * this.at.shares + s) * OUT_BYTES;
      const feature = this.i32[o / 4 + 6];
      const gain = this.f64[o / 8];
      if (feature < 0 || (best && !(gain > best.gain))) continue;
      const setSize = this.i32[o / 4 + 9];
      best = { gain, gl: this.f64[o / 8 + 1], hl: this.f64[o / 8 + 2], feature, bin: this.i32[o / 4 + 7], missingLeft: this.i32[o / 4 + 8] === 1 };
      if (setSize > 0) best.set = Array.from(this.u8.subarray(o + 40, o + 40 + setSize));
    }
    return best;
  }

  /** The message of a share that threw, for the grower to throw. */
  failure(): string {
    this.views();
    const at = this.at.block + ERROR;
    const bytes = this.u8.slice(at, at + ERROR_BYTES);
    const end = bytes.indexOf(0);
    return Buffer.from(bytes.subarray(0, end < 0 ? ERROR_BYTES : end)).toString('utf8');
  }

  /** Records that a share threw (its message cut to fit). */
  fail(error: unknown): void {
    this.views();
    const text = Buffer.from(error instanceof Error ? (error.stack ?? error.message) : String(error)).subarray(0, ERROR_BYTES - 1);
    this.u8.fill(0, this.at.block + ERROR, this.at.block + ERROR + ERROR_BYTES);
    this.u8.set(text, this.at.block + ERROR);
    Atomics.store(this.i32, this.b + Slot.FAILED, 1);
  }

  private views(): void {
    if (this.u8?.byteLength === this.memory.buffer.byteLength) return;
    const buffer = this.memory.buffer;
    this.f64 = new Float64Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u8 = new Uint8Array(buffer);
  }

  private field(at: number, f: Field): number {
    return this.i32[at / 4 + f];
  }

  private sum(at: number, k: number): number {
    return this.f64[(at + SUMS) / 8 + k];
  }

  private root(at: number, j0: number, j1: number, s: number): void {
    const hist = this.field(at, Field.LEFT);
    this.zero(hist, j0, j1);
    this.accumulate(hist, this.at.order, 0, this.field(at, Field.END), j0, j1);
    this.search(at, 0, s, hist, this.sum(at, 0), this.sum(at, 1), j0, j1);
  }

  private partition(s: number, at: number): void {
    const start = this.field(at, Field.START);
    const [from, to] = partOf(this.field(at, Field.END) - start, this.at.shares, s);
    const { order, left, right } = this.at;
    this.i32[at / 4 + Field.COUNTS + s] = this.kernels.partition(order, left, right, this.field(at, Field.COLUMN), at + GOES_LEFT, start + from, start + to);
  }

  /** Places share s's lists of the node at `at` in order: the left lists, then the right ones, each in the shares' order, are the stable partition of the whole node. */
  private place(s: number, at: number): void {
    const start = this.field(at, Field.START);
    const end = this.field(at, Field.END);
    const { shares, order, left, right } = this.at;
    const counts = at / 4 + Field.COUNTS;
    let leftAt = start;
    let rightAt = start;
    for (let t = 0; t < shares; t++) rightAt += this.i32[counts + t];
    for (let t = 0; t < s; t++) {
      const [from, to] = partOf(end - start, shares, t);
      leftAt += this.i32[counts + t];
      rightAt += to - from - this.i32[counts + t];
    }
    const [from, to] = partOf(end - start, shares, s);
    const l = this.i32[counts + s];
    this.u32.copyWithin(order / 4 + leftAt, left / 4 + start + from, left / 4 + start + from + l);
    this.u32.copyWithin(order / 4 + rightAt, right / 4 + start + from, right / 4 + start + to - l);
  }

  /** For the features j0..j1: builds the smaller child's histogram, subtracts for the larger, and finds both children's best splits, written as share `slot`'s. */
  private children(at: number, j0: number, j1: number, slot: number): void {
    const start = this.field(at, Field.START);
    const end = this.field(at, Field.END);
    const { shares, left, right } = this.at;
    const counts = at / 4 + Field.COUNTS;
    const smallIsLeft = this.field(at, Field.SMALL_IS_LEFT) === 1;
    const [small, large] = smallIsLeft ? [this.field(at, Field.LEFT), this.field(at, Field.RIGHT)] : [this.field(at, Field.RIGHT), this.field(at, Field.LEFT)];
    // The smaller child's rows are still in the lists, which no share writes now: the build need not wait for the others to place theirs.
    this.zero(small, j0, j1);
    for (let t = 0; t < shares; t++) {
      const [a, b] = partOf(end - start, shares, t);
      const lt = this.i32[counts + t];
      if (smallIsLeft) this.accumulate(small, left, start + a, start + a + lt, j0, j1);
      else this.accumulate(small, right, start + a, start + b - lt, j0, j1);
    }
    this.kernels.subtract(large, this.field(at, Field.PARENT), small, this.at.spans + 8 * j0, j1 - j0);
    this.search(at, 0, slot, this.field(at, Field.LEFT), this.sum(at, 0), this.sum(at, 1), j0, j1);
    this.search(at, 1, slot, this.field(at, Field.RIGHT), this.sum(at, 2), this.sum(at, 3), j0, j1);
  }

  /** This share's features: the tree's feature list from j0 to j1. */
  private group(s: number): [number, number] {
    return [this.i32[this.b + Slot.GROUPS + s], this.i32[this.b + Slot.GROUPS + s + 1]];
  }

  /** Only the bins each feature has: the rest are never read. */
  private zero(hist: number, j0: number, j1: number): void {
    for (let j = j0; j < j1; j++) {
      const f = this.i32[this.at.featureList / 4 + j];
      const o = hist / 8 + f * FEATURE_FLOATS;
      this.f64.fill(0, o, o + (this.at.nBins[f] + 1) * 2);
    }
  }

  private accumulate(hist: number, rows: number, start: number, end: number, j0: number, j1: number): void {
    const { codes, gh, features, featureList } = this.at;
    // Every feature is the common case, without the indirection: this loop is most of the training time.
    if (this.i32[this.b + Slot.ALL_FEATURES] === 1) this.kernels.buildAll(hist, codes, rows, gh, start, end, features, j0, j1);
    else this.kernels.buildSome(hist, codes, rows, gh, start, end, features, featureList + 4 * j0, j1 - j0);
  }

  /** The best split of a node (histogram hist, sums g and h) on the features j0..j1, written to the entry's slot for child c and share s. */
  private search(at: number, c: number, s: number, hist: number, g: number, h: number, j0: number, j1: number): void {
    const { lambda, minChildWeight, minSplitGain } = this.at.params;
    const parent = (g * g) / (h + lambda);
    let best: Split | undefined;
    let bestGain = minSplitGain;
    const found = this.at.found + 32 * this.thread;
    for (let j = j0; j < j1; j++) {
      const f = this.i32[this.at.featureList / 4 + j];
      if (this.at.categorical[f]) {
        const set = this.bestSet(hist, f, g, h, parent, bestGain);
        if (set) [best, bestGain] = [set, set.gain];
        continue;
      }
      if (this.kernels.bestThreshold(hist + f * FEATURE_BYTES, this.at.nBins[f], g, h, parent, lambda, minChildWeight, bestGain, found) === 0) continue;
      const o = found / 8;
      bestGain = this.f64[o];
      best = { gain: this.f64[o], feature: f, bin: this.i32[2 * o + 6], missingLeft: this.i32[2 * o + 7] === 1, gl: this.f64[o + 1], hl: this.f64[o + 2] };
    }
    const o = at + OUT + (c * this.at.shares + s) * OUT_BYTES;
    this.i32[o / 4 + 6] = best ? best.feature : -1;
    if (!best) return;
    this.f64[o / 8] = best.gain;
    this.f64[o / 8 + 1] = best.gl;
    this.f64[o / 8 + 2] = best.hl;
    this.i32[o / 4 + 7] = best.bin;
    this.i32[o / 4 + 8] = best.missingLeft ? 1 : 0;
    this.i32[o / 4 + 9] = best.set?.length ?? 0;
    if (best.set) this.u8.set(best.set, o + 40);
  }

  /** The best set of a categorical feature's bins to send left, under the same gain as threshold splits. */
  private bestSet(node: number, f: number, g: number, h: number, parent: number, bestGain: number): Split | undefined {
    const hist = this.f64;
    const off = node / 8 + f * FEATURE_FLOATS;
    const gm = hist[off];
    const hm = hist[off + 1];
    const present: number[] = [];
    for (let b = 1; b <= this.at.nBins[f]; b++) if (hist[off + 2 * b + 1] > 0) present.push(b);
    if (present.length < 2) return undefined;
    const candidates: number[][] = [];
    if (present.length <= MAX_ONE_HOT) for (const b of present) candidates.push([b]);
    else {
      const ratio = (b: number) => hist[off + 2 * b] / (hist[off + 2 * b + 1] + CAT_SMOOTH);
      const sorted = present.slice().sort((a, b) => ratio(a) - ratio(b) || a - b);
      const most = Math.min(MAX_SET, sorted.length - 1);
      for (let k = 1; k <= most; k++) candidates.push(sorted.slice(0, k), sorted.slice(sorted.length - k));
    }
    let best: Split | undefined;
    const directions = hm === 0 ? 1 : 2;
    const { lambda, minChildWeight } = this.at.params;
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
        const gain = this.kernels.splitGain(g, h, GL, HL, parent, lambda, minChildWeight);
        if (gain > bestGain) {
          bestGain = gain;
          best = { gain, feature: f, bin: 0, missingLeft, gl: GL, hl: HL, set: set.slice().sort((a, b) => a - b) };
        }
      }
    }
    return best;
  }
}
