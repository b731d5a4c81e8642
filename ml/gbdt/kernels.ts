import fs from 'node:fs';
import path from 'node:path';

/** What this file uses of Node's WebAssembly global (the project's TypeScript libraries do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
  Memory: new (limits: { initial: number; maximum: number; shared: true }) => KernelSharedMemory;
};
type WasmModule = { readonly wasmModule: unique symbol };
/** The kernels' memory: shared, so that a training thread's replica (ml/gbdt/team.ts) can be reached from the thread and the grower both. */
export interface KernelSharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}

/** The exports of ml/gbdt/wasm/kernels.ts; every pointer is a byte offset into the instance's memory. */
export interface KernelExports {
  heapBase(): number;
  gatherGradients(gh: number, order: number, grad: number, hess: number, n: number, sums: number): void;
  buildAll(hist: number, codes: number, order: number, gh: number, start: number, end: number, features: number, f0: number, f1: number): void;
  buildSome(hist: number, codes: number, order: number, gh: number, start: number, end: number, features: number, list: number, n: number): void;
  subtract(out: number, parent: number, small: number, spans: number, n: number): void;
  splitGain(g: number, h: number, GL: number, HL: number, parent: number, lambda: number, minChildWeight: number): number;
  bestThreshold(hist: number, nBins: number, g: number, h: number, parent: number, lambda: number, minChildWeight: number, bestGain: number, out: number): number;
  logisticGradients(y: number, raw: number, grad: number, hess: number, n: number): void;
  poissonGradients(y: number, raw: number, grad: number, hess: number, n: number, maxDeltaStep: number): void;
  sortDistinct(values: number, spare: number, n: number, buckets: number, distinct: number, counts: number): number;
  binFeature(values: number, rows: number, features: number, f: number, edges: number, nEdges: number, codes: number, columns: number): void;
  partition(order: number, scratch: number, column: number, goesLeft: number, start: number, end: number): number;
  clear(hist: number, spans: number, n: number): void;
}

/** Bytes of one feature's histogram: 256 bins of (gradient, hessian) float64. */
export const FEATURE_BYTES = 4096;

const PAGE = 65536;
/** wasm32's whole address space: a shared memory's maximum is reserved (as address space, not memory) when it is made. */
const MAXIMUM_PAGES = 65536;
let compiled: WasmModule | undefined;

/** Compiled once per process from what `npm run build` put beside this file. */
function kernelModule(): WasmModule {
  compiled ??= new WebAssembly.Module(fs.readFileSync(path.join(__dirname, 'wasm', 'kernels.wasm')));
  return compiled;
}

/** A memory for the kernels of at least `bytes`. */
export function sharedMemory(bytes: number): KernelSharedMemory {
  return new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE)), maximum: MAXIMUM_PAGES, shared: true });
}

/** The kernels working on the given memory (one instance per thread that runs them). */
export function kernelsOver(memory: KernelSharedMemory): KernelExports {
  return new WebAssembly.Instance(kernelModule(), { env: { memory, abort: () => { throw new Error('gbdt kernels: abort'); } } }).exports as KernelExports;
}

/**
 * Typed views of a kernels' memory. Growing a memory replaces its buffer, so
 * the views are re-made then (refresh, or growTo).
 */
export class Views {
  f64!: Float64Array;
  i32!: Int32Array;
  u32!: Uint32Array;
  u8!: Uint8Array;

  constructor(readonly memory: KernelSharedMemory) {
    this.refresh();
  }

  /** The views, re-made if the memory has grown since (another thread may have grown it). */
  refresh(): this {
    if (this.u8?.byteLength === this.memory.buffer.byteLength) return this;
    const buffer = this.memory.buffer;
    this.f64 = new Float64Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    return this;
  }

  /** Grows the memory to hold at least `bytes`. */
  growTo(bytes: number): this {
    const size = this.memory.buffer.byteLength;
    if (bytes > size) this.memory.grow(Math.ceil((bytes - size) / PAGE));
    return this.refresh();
  }
}

/**
 * One tree grower's WebAssembly memory and kernels. Each grower has its own
 * instance, so trainings in one process never share memory, and the memory
 * goes with the grower. Memory is handed out by a bump allocator and never
 * freed (the grower pools its histograms); take `f64`, `u32`, `u8` afresh
 * after `alloc`, which may grow it.
 */
export class KernelMemory extends Views {
  readonly kernels: KernelExports;
  private top: number;

  constructor() {
    super(sharedMemory(0));
    this.kernels = kernelsOver(this.memory);
    this.top = align(this.kernels.heapBase());
  }

  /** bytes of zeroed memory, 16-aligned; returns its byte offset. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = align(at + bytes);
    this.growTo(this.top);
    return at;
  }
}

const align = (n: number) => (n + 15) & ~15;

let scratch: { mem: KernelMemory; bytes: number; at: number } | undefined;

/**
 * For kernels run on arrays held outside their memory (copied in and out): one
 * memory the process keeps, with at least `bytes` from `at` free to use; a
 * larger need replaces it.
 */
function scratchOf(bytes: number): { mem: KernelMemory; at: number } {
  if (!scratch || scratch.bytes < bytes) {
    const mem = new KernelMemory();
    scratch = { mem, bytes, at: mem.alloc(bytes) };
  }
  return scratch;
}

/**
 * Runs a row-wise gradient kernel over y and raw (length n each) into grad and
 * hess: the copies in and out cost little beside the exp() per row.
 */
export function gradientsInKernels(y: Float64Array, raw: Float64Array, grad: Float64Array, hess: Float64Array, run: (k: KernelExports, y: number, raw: number, grad: number, hess: number) => void): void {
  const n = y.length;
  const { mem, at } = scratchOf(32 * n);
  const [yAt, rawAt, gradAt, hessAt] = [at, at + 8 * n, at + 16 * n, at + 24 * n];
  mem.f64.set(y, yAt / 8);
  mem.f64.set(raw, rawAt / 8);
  run(mem.kernels, yAt, rawAt, gradAt, hessAt);
  grad.set(mem.f64.subarray(gradAt / 8, gradAt / 8 + n));
  hess.set(mem.f64.subarray(hessAt / 8, hessAt / 8 + n));
}

/**
 * The bins of a row-major matrix's values (binFeature), row-major and
 * feature-major. In a memory of its own, dropped on return, that holds one
 * feature's values at a time: a copy of the whole matrix would add its size
 * to the training's peak memory.
 */
export function binInKernels(x: Float64Array, rows: number, edges: Float32Array[]): { codes: Uint8Array; columns: Uint8Array } {
  const F = edges.length;
  const cells = rows * F;
  const mem = new KernelMemory();
  const at = mem.alloc(8 * rows + 2 * align(cells) + 4 * 256);
  const [valuesAt, codesAt, columnsAt, edgesAt] = [at, at + 8 * rows, at + 8 * rows + align(cells), at + 8 * rows + 2 * align(cells)];
  const f32 = new Float32Array(mem.f64.buffer);
  const values = mem.f64.subarray(valuesAt / 8, valuesAt / 8 + rows);
  for (let f = 0; f < F; f++) {
    for (let r = 0; r < rows; r++) values[r] = x[r * F + f];
    f32.set(edges[f], edgesAt / 4);
    mem.kernels.binFeature(valuesAt, rows, F, f, edgesAt, edges[f].length, codesAt, columnsAt);
  }
  return { codes: mem.u8.slice(codesAt, codesAt + cells), columns: mem.u8.slice(columnsAt, columnsAt + cells) };
}

/**
 * Per feature of a row-major matrix, its values other than NaN taken as
 * float32 and sorted (sortDistinct): each distinct one with how often it
 * occurs, handed to each in turn as views valid until it returns. In a memory
 * of its own, dropped on return.
 */
export function distinctValues(x: Float64Array, rows: number, F: number, each: (f: number, n: number, distinct: Float32Array, counts: Uint32Array) => void): void {
  const mem = new KernelMemory();
  const at = mem.alloc(16 * rows + 4 * 256);
  const [valuesAt, spareAt, distinctAt, countsAt, bucketsAt] = [at, at + 4 * rows, at + 8 * rows, at + 12 * rows, at + 16 * rows];
  const values = new Float32Array(mem.f64.buffer, valuesAt, rows);
  for (let f = 0; f < F; f++) {
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const v = x[r * F + f];
      if (v === v) values[n++] = v;
    }
    const nd = mem.kernels.sortDistinct(valuesAt, spareAt, n, bucketsAt, distinctAt, countsAt);
    each(f, n, new Float32Array(mem.f64.buffer, distinctAt, nd), new Uint32Array(mem.f64.buffer, countsAt, nd));
  }
}
