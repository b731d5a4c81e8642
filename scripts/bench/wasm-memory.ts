/**
 * Benchmark: how the GBDT histogram kernel (buildAll, ml/gbdt/wasm/kernels.ts)
 * scales when two threads split the rows, on one shared WebAssembly memory
 * and on a memory each. Times, in one run: one thread over every row; two
 * threads over half the rows each on one memory (each with its own histogram
 * and its own copy of the data, so no byte is written by both); two threads
 * over half the rows each on a memory each. The GBDT's threads split the
 * features instead (ml/gbdt/share.ts); this is the figure a split by rows
 * would start from.
 *
 *   node dist/scripts/bench/wasm-memory.js [--rows 24000] [--features 23] [--reps 300] [--repeat 3]
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { KernelMemory, kernelsOver, type KernelExports, type KernelSharedMemory } from '../../ml/gbdt/kernels';
import { arg, runMain, say } from './kit/cli';

const N = Number(arg('rows', '24000'));
const F = Number(arg('features', '23'));
const REPS = Number(arg('reps', '300'));
const REPEAT = Number(arg('repeat', '3'));
const HISTOGRAM = F * 4096;

/** Byte offsets of one thread's data: row-major bins, a row order (a fixed shuffle), gradient pairs, a histogram. */
interface Data {
  codes: number;
  order: number;
  gh: number;
  hist: number;
}

function fill(mem: KernelMemory): Data {
  const d = { codes: mem.alloc(N * F), order: mem.alloc(4 * N), gh: mem.alloc(16 * N), hist: mem.alloc(HISTOGRAM) };
  for (let i = 0; i < N * F; i++) mem.u8[d.codes + i] = (i * 2654435761) >>> 24;
  for (let i = 0; i < N; i++) mem.u32[d.order / 4 + i] = (i * 7919) % N;
  for (let i = 0; i < 2 * N; i++) mem.f64[d.gh / 8 + i] = 0.25 + (i % 7);
  return d;
}

const build = (k: KernelExports, d: Data, from: number, to: number) => {
  for (let i = 0; i < REPS; i++) k.buildAll(d.hist, d.codes, d.order, d.gh, from, to, F, 0, F);
};

interface Job {
  memory?: KernelSharedMemory;
  data?: Data;
}

/** The second thread: builds rows N/2..N, on the memory it is given or on one of its own. */
function second(job: Job): void {
  let kernels: KernelExports;
  let data: Data;
  if (job.memory && job.data) [kernels, data] = [kernelsOver(job.memory), job.data];
  else {
    const mem = new KernelMemory();
    [kernels, data] = [mem.kernels, fill(mem)];
  }
  build(kernels, data, N / 2, N);
  parentPort!.postMessage('ready');
  parentPort!.on('message', () => {
    build(kernels, data, N / 2, N);
    parentPort!.postMessage('done');
  });
}

/** Milliseconds for this thread's half (on mem, data) and the second thread's, started together. */
async function twoThreads(mem: KernelMemory, data: Data, job: Job): Promise<number> {
  const worker = new Worker(__filename, { workerData: job });
  try {
    await new Promise((resolve) => worker.once('message', resolve));
    const done = new Promise((resolve) => worker.once('message', resolve));
    const start = performance.now();
    worker.postMessage('go');
    build(mem.kernels, data, 0, N / 2);
    await done;
    return performance.now() - start;
  } finally {
    await worker.terminate();
  }
}

async function main(): Promise<void> {
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const one: number[] = [];
  const shared: number[] = [];
  const separate: number[] = [];
  const mem = new KernelMemory();
  const data = fill(mem);
  // The second thread's own copy, in the same memory: it reads and writes none of this thread's bytes.
  const copy = fill(mem);
  build(mem.kernels, data, 0, N);
  for (let r = 0; r < REPEAT; r++) {
    const start = performance.now();
    build(mem.kernels, data, 0, N);
    one.push(performance.now() - start);
    shared.push(await twoThreads(mem, data, { memory: mem.memory, data: copy }));
    separate.push(await twoThreads(mem, data, {}));
  }
  const [t1, ts, tm] = [median(one), median(shared), median(separate)];
  say(`histogram kernel (buildAll): ${N} rows × ${F} features, ${REPS} builds; medians of ${REPEAT} runs`);
  say(`one thread, all rows:                         ${t1.toFixed(0).padStart(6)} ms`);
  say(`two threads, half each, one shared memory:    ${ts.toFixed(0).padStart(6)} ms   speedup ${(t1 / ts).toFixed(2)}x`);
  say(`two threads, half each, a memory each:        ${tm.toFixed(0).padStart(6)} ms   speedup ${(t1 / tm).toFixed(2)}x`);
}

if (isMainThread) runMain(main);
else second(workerData as Job);
