/**
 * A training thread (ml/gbdt/team.ts): runs its share of each task the grower
 * posts, on its replica of the grower's memory, until told to stop. Between
 * tasks it looks for the next one for SPIN_MS, then sleeps on the control
 * block's SEQ; it never returns to its event loop while the training runs.
 */
import { workerData } from 'node:worker_threads';
import { Control, GrowShare, Op, Slot } from './share';
import { recordThreadFailure, SPIN_MS, type ThreadData } from './team';

function serve({ memory, layout, share: s, control: controlBuffer, error }: ThreadData): void {
  const share = new GrowShare(memory, layout);
  const control = new Int32Array(controlBuffer);
  const op = () => new Int32Array(memory.buffer)[layout.block / 4 + Slot.OP];
  for (let seen = 0; ; ) {
    const until = performance.now() + SPIN_MS;
    for (let i = 0; Atomics.load(control, Control.SEQ) === seen; i++) if ((i & 1023) === 0 && performance.now() > until) break;
    while (Atomics.load(control, Control.SEQ) === seen) Atomics.wait(control, Control.SEQ, seen);
    seen = Atomics.load(control, Control.SEQ);
    if (op() === Op.STOP) return;
    try {
      share.run(s);
    } catch (failure) {
      recordThreadFailure(control, error, failure);
    }
    Atomics.store(control, Control.DONE + s, seen);
    Atomics.notify(control, Control.DONE + s);
  }
}

serve(workerData as ThreadData);
