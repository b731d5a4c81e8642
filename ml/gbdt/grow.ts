import type { Bins } from './binning';
import { FEATURE_BYTES, KernelMemory } from './kernels';
import { MAX_THREADS } from './limits';
import { entryBytes, Field, GOES_LEFT, Op, Slot, SUMS, TASK_BLOCK_BYTES, type Split } from './share';
import { Team } from './team';
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
  /** Threads to grow each tree with (ml/gbdt/team.ts); the tree is the same for any number. */
  threads?: number;
}

interface Node {
  start: number;
  end: number;
  depth: number;
  g: number;
  h: number;
  /** Byte offset of the node's histogram in the kernels' memory, or NONE. */
  hist: number;
  /** The best split found for it, where its depth allows one; children once it is split. */
  split?: Split;
  children?: [Node, Node];
}

const BINS = 256;
const NONE = -1;
/** A feature's split search over this many bins costs about what its histogram costs over a tree's rows (credit-default, depth 6, 24,000 rows: the two threads' shares of a level measured closest to equal at 150). */
const BINS_PER_ROW_COST = 150;

/**
 * Grows one tree best-first (largest gain next) under both a depth and a leaf
 * limit, from gradient histograms; the larger child's histogram is the parent's
 * minus the smaller's. The training's threads (ml/gbdt/team.ts) each build
 * the histograms of a group of the features and find the best split among
 * them (ml/gbdt/share.ts); choosing what to split and assembling the tree are
 * this thread's.
 */
export class TreeGrower {
  /** The hot loops run in WebAssembly (ml/gbdt/wasm/kernels.ts) over this memory; these are byte offsets into it. */
  private readonly mem = new KernelMemory();
  private readonly columns: number;
  private readonly order: number;
  /** Per row, its gradient and hessian side by side, for the tree being grown, gathered from grad and hess (float64s by row). */
  private readonly gh: number;
  private readonly grad: number;
  private readonly hess: number;
  /** This tree's features (i32s), and per feature the span of its histogram that has bins (i32 pairs: offset, bytes). */
  private readonly featureList: number;
  private readonly spans: number;
  private readonly found: number;
  private readonly block: number;
  /** The node table of the tasks (share.ts), and how many nodes it holds. */
  private table = 0;
  private tableSize = 0;
  private readonly entry: number;
  private readonly pool: number[] = [];
  private readonly team: Team;
  private readonly shares: number;

  constructor(
    private readonly bins: Bins,
    private readonly p: GrowParams,
  ) {
    const { rows: N, features: F } = bins;
    const threads = p.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) throw new Error(`gbdt: threads must be a whole number from 1 to ${MAX_THREADS}, not ${threads}`);
    this.shares = threads;
    this.entry = entryBytes(threads);
    const m = this.mem;
    const codes = m.alloc(N * F);
    this.columns = m.alloc(N * F);
    this.order = m.alloc(4 * N);
    const scratch = m.alloc(4 * N);
    this.gh = m.alloc(16 * N);
    this.grad = m.alloc(8 * N);
    this.hess = m.alloc(8 * N);
    this.featureList = m.alloc(4 * F);
    this.spans = m.alloc(8 * F);
    this.found = m.alloc(32);
    this.block = m.alloc(TASK_BLOCK_BYTES);
    m.u8.set(bins.codes, codes);
    m.u8.set(bins.columns, this.columns);
    this.team = new Team(m.memory, {
      block: this.block,
      codes,
      order: this.order,
      scratch,
      gh: this.gh,
      grad: this.grad,
      hess: this.hess,
      featureList: this.featureList,
      spans: this.spans,
      found: this.found,
      features: F,
      shares: this.shares,
      nBins: bins.edges.map((e) => e.length),
      categorical: bins.edges.map((_, f) => p.categorical?.[f] === true),
      params: { lambda: p.lambda, minChildWeight: p.minChildWeight, minSplitGain: p.minSplitGain },
    });
  }

  /** Ends the grower's threads. */
  close(): void {
    this.team.close();
  }

  /** A histogram's byte offset; only the bins each feature has are ever read, and build or subtraction writes all of them first. */
  private histogram(): number {
    return this.pool.pop() ?? this.mem.alloc(this.bins.features * FEATURE_BYTES);
  }

  /** Entry e of the node table (a byte offset), the table made room for n entries first. */
  private entryOf(e: number, n = e + 1): number {
    if (n > this.tableSize) {
      this.tableSize = Math.max(n, 2 * this.tableSize);
      this.table = this.mem.alloc(this.tableSize * this.entry);
      this.mem.i32[this.block / 4 + Slot.TABLE] = this.table;
    }
    return this.table + e * this.entry;
  }

  private set(at: number, field: Field, value: number): void {
    this.mem.i32[at / 4 + field] = value;
  }

  /**
   * Grows a tree on the given rows. onLeaf is called with each leaf's value and
   * its rows, so the caller can update their scores without walking the tree.
   */
  grow(rows: Uint32Array, grad: Float64Array, hess: Float64Array, features: Int32Array, onLeaf?: (value: number, rows: Uint32Array) => void): Tree {
    const m = this.mem;
    m.u32.set(rows, this.order / 4);
    m.f64.set(grad, this.grad / 8);
    m.f64.set(hess, this.hess / 8);
    m.i32.set(features, this.featureList / 4);
    for (let j = 0; j < features.length; j++) {
      m.i32[this.spans / 4 + 2 * j] = features[j] * FEATURE_BYTES;
      m.i32[this.spans / 4 + 2 * j + 1] = (this.bins.edges[features[j]].length + 1) * 16;
    }
    const b = this.block / 4;
    m.i32[b + Slot.ALL_FEATURES] = features.length === this.bins.features ? 1 : 0;
    // Groups of about equal work: a feature's histogram costs the same per row, its split search per bin.
    let total = 0;
    for (const f of features) total += 1 + this.bins.edges[f].length / BINS_PER_ROW_COST;
    for (let s = 1, j = 0, sum = 0; s < this.shares; s++) {
      while (j < features.length && sum < (s * total) / this.shares) sum += 1 + this.bins.edges[features[j++]].length / BINS_PER_ROW_COST;
      m.i32[b + Slot.GROUPS + s] = j;
    }
    m.i32[b + Slot.GROUPS] = 0;
    m.i32[b + Slot.GROUPS + this.shares] = features.length;

    const hist = this.histogram();
    const at = this.entryOf(0);
    this.set(at, Field.END, rows.length);
    this.set(at, Field.LEFT, hist);
    // A tree's data for the threads: its rows, their gradients, its features, and the task.
    const N = this.bins.rows;
    this.team.run(Op.ROOT, [
      [this.order, this.order + 4 * rows.length],
      [this.grad, this.grad + 8 * N],
      [this.hess, this.hess + 8 * N],
      [this.featureList, this.featureList + 4 * features.length],
      [this.spans, this.spans + 8 * features.length],
      ...this.task(1),
    ]);
    const root: Node = { start: 0, end: rows.length, depth: 0, g: m.f64[(at + SUMS) / 8], h: m.f64[(at + SUMS) / 8 + 1], hist };
    root.split = this.team.best(at, 0);
    if (!root.split) this.pool.push(root.hist);
    if (this.p.maxLeaves >= 2 ** this.p.maxDepth) {
      // The leaf limit cannot bind, so every node with a split is split, whatever the order: a level at a time, in one task each.
      for (let level = root.split ? [root] : []; level.length > 0; ) level = this.split(level).filter((n) => n.split);
    } else {
      const open = root.split ? [root] : [];
      for (let leaves = 1; open.length > 0 && leaves < this.p.maxLeaves; leaves++) {
        const node = open.splice(largestGain(open), 1)[0];
        open.push(...this.split([node]).filter((n) => n.split));
      }
      // Nodes left open at the leaf limit are leaves: their histograms are free again.
      for (const node of open) this.pool.push(node.hist);
    }
    return this.assemble(root, onLeaf);
  }

  /** The task block and the first n entries of the node table: what every task copies to the threads. */
  private task(n: number): [number, number][] {
    return [
      [this.block, this.block + TASK_BLOCK_BYTES],
      [this.table, this.table + n * this.entry],
    ];
  }

  /** Splits each node (in one task, every node together), finding the children's own best splits where their depth allows; returns the children. */
  private split(nodes: Node[]): Node[] {
    const m = this.mem;
    const N = this.bins.rows;
    m.i32[this.block / 4 + Slot.BATCH] = nodes.length;
    const children: Node[] = [];
    nodes.forEach((node, e) => {
      const s = node.split!;
      const at = this.entryOf(e, nodes.length);
      this.set(at, Field.START, node.start);
      this.set(at, Field.END, node.end);
      this.set(at, Field.COLUMN, this.columns + s.feature * N);
      const goesLeft = m.u8.subarray(at + GOES_LEFT, at + GOES_LEFT + BINS);
      if (s.set) {
        goesLeft.fill(0);
        for (const b of s.set) goesLeft[b] = 1;
      } else goesLeft.fill(1, 1, s.bin + 1).fill(0, s.bin + 1);
      goesLeft[0] = s.missingLeft ? 1 : 0;
      const depth = node.depth + 1;
      // Children at the depth limit become leaves: they need no histograms.
      const splittable = depth < this.p.maxDepth;
      const left: Node = { start: node.start, end: node.start, depth, g: s.gl, h: s.hl, hist: NONE };
      const right: Node = { start: node.start, end: node.end, depth, g: node.g - s.gl, h: node.h - s.hl, hist: NONE };
      node.children = [left, right];
      children.push(left, right);
      this.set(at, Field.PARENT, node.hist);
      this.set(at, Field.SPARE, splittable ? this.histogram() : NONE);
      this.set(at, Field.SPLITTABLE, splittable ? 1 : 0);
      const sums = (at + SUMS) / 8;
      [m.f64[sums], m.f64[sums + 1], m.f64[sums + 2], m.f64[sums + 3]] = [left.g, left.h, right.g, right.h];
    });
    this.team.run(Op.LEVEL, this.task(nodes.length));
    nodes.forEach((node, e) => {
      const at = this.table + e * this.entry;
      const [left, right] = node.children!;
      left.end = right.start = node.start + m.i32[at / 4 + Field.COUNT];
      if (m.i32[at / 4 + Field.SPLITTABLE] === 0) {
        this.pool.push(node.hist);
        return;
      }
      // The node's histogram is now one of its children's.
      [left.hist, right.hist] = [m.i32[at / 4 + Field.LEFT], m.i32[at / 4 + Field.RIGHT]];
      [left.split, right.split] = [this.team.best(at, 0), this.team.best(at, 1)];
      for (const child of node.children!) if (!child.split) this.pool.push(child.hist);
    });
    return children;
  }

  /**
   * The tree in flat arrays, its nodes numbered in the order best-first growth
   * splits them (largest gain next): the order the split nodes were grown in
   * does not change the model's bytes.
   */
  private assemble(root: Node, onLeaf?: (value: number, rows: Uint32Array) => void): Tree {
    const ids = new Map<Node, number>([[root, 0]]);
    const split: Node[] = [];
    for (const open = root.children ? [root] : []; open.length > 0; ) {
      const node = open.splice(largestGain(open), 1)[0];
      split.push(node);
      for (const child of node.children!) {
        ids.set(child, ids.size);
        if (child.children) open.push(child);
      }
    }
    const n = ids.size;
    const tree: Tree = {
      feature: new Int32Array(n).fill(-1),
      threshold: new Float32Array(n),
      bin: new Uint8Array(n),
      missingLeft: new Uint8Array(n),
      left: new Int32Array(n).fill(-1),
      right: new Int32Array(n).fill(-1),
      value: new Float32Array(n),
      setStart: new Int32Array(n).fill(-1),
      setSize: new Int32Array(n),
      setBins: new Uint8Array(0),
      setValues: new Float32Array(0),
    };
    const setBins: number[] = [];
    const setValues: number[] = [];
    for (const node of split) {
      const id = ids.get(node)!;
      const s = node.split!;
      tree.feature[id] = s.feature;
      tree.bin[id] = s.bin;
      if (s.set) {
        // A categorical feature's bins are its values: bin b holds edges[b - 1] exactly.
        tree.setStart[id] = setBins.length;
        tree.setSize[id] = s.set.length;
        for (const b of s.set) {
          setBins.push(b);
          setValues.push(this.bins.edges[s.feature][b - 1]);
        }
      } else tree.threshold[id] = this.bins.edges[s.feature][s.bin - 1];
      tree.missingLeft[id] = s.missingLeft ? 1 : 0;
      tree.left[id] = ids.get(node.children![0])!;
      tree.right[id] = ids.get(node.children![1])!;
    }
    const order = this.mem.u32.subarray(this.order / 4, this.order / 4 + this.bins.rows);
    for (const [node, id] of ids) {
      tree.value[id] = Math.fround((-node.g / (node.h + this.p.lambda)) * this.p.learningRate);
      if (!node.children && onLeaf) onLeaf(tree.value[id], order.subarray(node.start, node.end));
    }
    tree.setBins = Uint8Array.from(setBins);
    tree.setValues = Float32Array.from(setValues);
    return tree;
  }
}

/** The open node to split next: the first of the largest gains. */
function largestGain(open: Node[]): number {
  let pick = 0;
  for (let i = 1; i < open.length; i++) if (open[i].split!.gain > open[pick].split!.gain) pick = i;
  return pick;
}
