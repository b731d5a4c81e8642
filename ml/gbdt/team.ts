import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { sharedMemory, Views, type KernelSharedMemory } from './kernels';
import { Control, CONTROL_BYTES, ERROR_BYTES, GrowShare, Op, shareSplit, Slot, type ShareLayout, type Split } from './share';

/** What a thread is started with (ml/gbdt/grow-thread.ts). */
export interface ThreadData {
  /** The thread's replica of the grower's memory. */
  memory: KernelSharedMemory;
  layout: ShareLayout;
  share: number;
  control: SharedArrayBuffer;
  error: SharedArrayBuffer;
}

/**
 * How long a thread keeps looking for the next task before it sleeps, in
 * milliseconds: the tasks of a tree follow each other within that, and waking
 * a sleeping thread measured a quarter of a millisecond or more here.
 */
export const SPIN_MS = 2;

/**
 * A training's threads: this one runs share 0 of each task on the grower's
 * memory, one worker thread each of the others on a replica of it (share.ts
 * says why). Before a task, the byte ranges the grower names (the task, and
 * what changed of the data) are copied from the grower's memory to each
 * replica; after it, each share's split is read from its replica.
 */
export class Team {
  private readonly workers: Worker[] = [];
  private readonly share: GrowShare;
  private readonly views: Views[];
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
  private readonly error = new SharedArrayBuffer(ERROR_BYTES);
  private seq = 0;

  constructor(
    main: KernelSharedMemory,
    private readonly layout: ShareLayout,
  ) {
    this.share = new GrowShare(main, layout);
    this.views = [new Views(main)];
    // Loaded only for a training with threads: the module alone adds more than a megabyte to a process's memory.
    const threads = layout.shares > 1 ? (require('node:worker_threads') as typeof import('node:worker_threads')) : undefined;
    for (let s = 1; s < layout.shares; s++) {
      const memory = sharedMemory(main.buffer.byteLength);
      const replica = new Views(memory);
      replica.u8.set(new Uint8Array(main.buffer));
      this.views.push(replica);
      const data: ThreadData = { memory, layout, share: s, control: this.control.buffer as SharedArrayBuffer, error: this.error };
      const worker = new threads!.Worker(path.join(__dirname, 'grow-thread.js'), { workerData: data });
      // A thread never returns to its event loop while the training runs; close() ends it.
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** Runs op, every share, after copying the byte ranges [from, to) of the grower's memory to each replica. */
  run(op: Op, ranges: [number, number][]): void {
    const main = this.views[0].refresh();
    main.i32[this.layout.block / 4 + Slot.OP] = op;
    if (this.workers.length === 0) return this.share.run(0);
    for (const replica of this.views.slice(1)) {
      replica.growTo(main.u8.byteLength);
      for (const [from, to] of ranges) replica.u8.set(main.u8.subarray(from, to), from);
    }
    const seq = ++this.seq;
    Atomics.store(this.control, Control.SEQ, seq);
    Atomics.notify(this.control, Control.SEQ);
    this.share.run(0);
    for (let s = 1; s < this.layout.shares; s++) waitFor(this.control, Control.DONE + s, (done) => done === seq);
    if (Atomics.load(this.control, Control.FAILED) === 1) throw new Error(`gbdt: a training thread failed: ${threadFailure(this.error)}`);
  }

  /** The best split the shares found for child c (0: the root or the left child, 1: the right) of the node at table entry `at`: the first of the largest gains, as one scan of every feature would find it. */
  best(at: number, c: number): Split | undefined {
    let best: Split | undefined;
    for (let s = 0; s < this.layout.shares; s++) {
      const split = shareSplit(this.views[s].refresh(), at, c, s, this.layout.shares);
      if (split && (!best || split.gain > best.gain)) best = split;
    }
    return best;
  }

  /** Ends the threads; the team is not used again. */
  close(): void {
    if (this.workers.length === 0) return;
    this.views[0].refresh().i32[this.layout.block / 4 + Slot.OP] = Op.STOP;
    for (const replica of this.views.slice(1)) replica.refresh().i32[this.layout.block / 4 + Slot.OP] = Op.STOP;
    Atomics.store(this.control, Control.SEQ, ++this.seq);
    Atomics.notify(this.control, Control.SEQ);
    for (const worker of this.workers) void worker.terminate();
    this.workers.length = 0;
  }
}

/**
 * Waits until control[slot] satisfies done: looking for SPIN_MS, then
 * sleeping on the slot (each change is notified).
 */
export function waitFor(control: Int32Array, slot: number, done: (value: number) => boolean): void {
  const until = performance.now() + SPIN_MS;
  for (let i = 0; !done(Atomics.load(control, slot)); i++) if ((i & 1023) === 0 && performance.now() > until) break;
  for (let value; !done((value = Atomics.load(control, slot))); ) Atomics.wait(control, slot, value);
}

/** A failing thread's message, as it wrote it (recordThreadFailure). */
function threadFailure(error: SharedArrayBuffer): string {
  const bytes = new Uint8Array(error);
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.slice(0, end < 0 ? bytes.length : end)).toString('utf8');
}

/** Records that a thread's share threw (its message cut to fit), for the grower to throw. */
export function recordThreadFailure(control: Int32Array, error: SharedArrayBuffer, failure: unknown): void {
  const text = Buffer.from(failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)).subarray(0, ERROR_BYTES - 1);
  const bytes = new Uint8Array(error);
  bytes.fill(0);
  bytes.set(text);
  Atomics.store(control, Control.FAILED, 1);
}
