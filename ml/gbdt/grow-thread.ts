/**
 * A training thread (ml/gbdt/team.ts): runs its share of each task the grower
 * posts, on its replica of the grower's memory, until told to stop. Between
 * tasks it waits on the control block's SEQ (team.ts's waitFor); it never
 * returns to its event loop while the training runs.
 */
import { workerData } from 'node:worker_threads';
import { Control, GrowShare, Op } from './share';
import { recordThreadFailure, waitFor, type ThreadData } from './team';

function serve({ memory, layout, share: s, control: controlBuffer, error }: ThreadData): void {
  const share = new GrowShare(memory, layout);
  const control = new Int32Array(controlBuffer);
  for (let seen = 0; ; ) {
    waitFor(control, Control.SEQ, (seq) => seq !== seen);
    seen = Atomics.load(control, Control.SEQ);
    if (share.op() === Op.STOP) return;
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
