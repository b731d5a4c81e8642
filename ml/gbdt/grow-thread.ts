/**
 * A training thread (ml/gbdt/team.ts): runs its share of each task the grower
 * posts in the task block, until told to stop. It blocks between tasks
 * (spinning first, then sleeping on the block's SEQ), never returning to its
 * event loop while the training runs.
 */
import { workerData } from 'node:worker_threads';
import { GrowShare, Op, Slot } from './share';
import { SPIN, type ThreadData } from './team';

const { memory, layout, share: s } = workerData as ThreadData;
const share = new GrowShare(memory, layout);
const b = layout.block / 4;
let seen = 0;
for (;;) {
  const control = share.control;
  for (let i = 0; i < SPIN && Atomics.load(control, b + Slot.SEQ) === seen; i++);
  while (Atomics.load(control, b + Slot.SEQ) === seen) Atomics.wait(control, b + Slot.SEQ, seen);
  seen = Atomics.load(control, b + Slot.SEQ);
  if (control[b + Slot.OP] === Op.STOP) break;
  try {
    share.run(s);
  } catch (error) {
    share.fail(error);
  }
  Atomics.store(control, b + Slot.DONE + s, seen);
  Atomics.notify(control, b + Slot.DONE + s);
}
