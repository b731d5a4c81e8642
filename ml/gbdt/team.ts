import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { KernelSharedMemory } from './kernels';
import { GrowShare, Op, Slot, type ShareLayout } from './share';

/** What a thread is started with (ml/gbdt/grow-thread.ts). */
export interface ThreadData {
  memory: KernelSharedMemory;
  layout: ShareLayout;
  share: number;
}

/**
 * Tasks wait this many looks at the task block before sleeping: a task follows
 * the last within microseconds while a tree grows, and waking a sleeping thread
 * takes longer than most tasks.
 */
export const SPIN = 20_000;

/**
 * A training's threads: this one runs share 0 of each task, one worker thread
 * each of the others, all on the kernels' shared memory. A task whose work is
 * too small to be worth waking the others is run here, every share in turn:
 * the same work, the same results.
 */
export class Team {
  private readonly workers: Worker[] = [];
  private readonly share: GrowShare;
  private seq = 0;
  /** Tasks the threads have run together (the rest ran here alone). */
  shared = 0;

  constructor(
    memory: KernelSharedMemory,
    private readonly layout: ShareLayout,
  ) {
    this.share = new GrowShare(memory, layout);
    for (let s = 1; s < layout.shares; s++) {
      const data: ThreadData = { memory, layout, share: s };
      const worker = new Worker(path.join(__dirname, 'grow-thread.js'), { workerData: data });
      // A thread never returns to its event loop while the training runs; close() ends it.
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** The best split the shares found for child c (0: the root or the left child, 1: the right) of the node at table entry `at`. */
  best(at: number, c: number) {
    return this.share.best(at, c);
  }

  /** Runs op, every share; here alone when `here`. */
  run(op: Op, here: boolean): void {
    const control = this.share.control;
    const b = this.layout.block / 4;
    control[b + Slot.OP] = op;
    if (here || this.workers.length === 0) {
      for (let s = 0; s < this.layout.shares; s++) this.share.run(s);
      return;
    }
    const seq = ++this.seq;
    this.shared++;
    Atomics.store(control, b + Slot.SEQ, seq);
    Atomics.notify(control, b + Slot.SEQ);
    this.share.run(0);
    for (let s = 1; s < this.layout.shares; s++) {
      const done = b + Slot.DONE + s;
      for (let i = 0; i < SPIN && Atomics.load(control, done) !== seq; i++);
      for (let last; (last = Atomics.load(control, done)) !== seq; ) Atomics.wait(control, done, last);
    }
    if (Atomics.load(control, b + Slot.FAILED) === 1) throw new Error(`gbdt: a training thread failed: ${this.share.failure()}`);
  }

  /** Ends the threads; the team is not used again. */
  close(): void {
    if (this.workers.length === 0) return;
    const control = this.share.control;
    const b = this.layout.block / 4;
    control[b + Slot.OP] = Op.STOP;
    Atomics.store(control, b + Slot.SEQ, ++this.seq);
    Atomics.notify(control, b + Slot.SEQ);
    for (const worker of this.workers) void worker.terminate();
    this.workers.length = 0;
  }
}
