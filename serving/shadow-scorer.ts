import type { OnnxScorer } from '../ml/scoring';
import { drained, scoreTogether } from './batch-scoring';

/** What becomes of one copy: its scores (or the error) and how long its batch took to score. */
export type ShadowDone = (result: { scores?: Float32Array; error?: unknown; latencyMs: number }) => void;

interface Copy {
  rows: Float32Array;
  count: number;
  done: ShadowDone;
}

/** A copy waits at most this long for the champion's batcher to have nothing queued. */
const MAX_WAIT_MS = 50;
/** How often waiting copies look for an idle moment. */
const LOOK_MS = 5;

/**
 * A rollout candidate scoring copies of answered requests (shadow), within a
 * budget that keeps it off the answers' way: the server hands it only a
 * sampled share of requests (rollout.shadowSample), the copies wait for a
 * moment when the champion's batcher has nothing queued (or MAX_WAIT_MS) and
 * are then scored together in one ONNX Runtime call, and beyond maxRows
 * waiting, a copy is refused rather than queued.
 *
 * The latency a copy reports is its batch's scoring time, not its wait: the
 * wait is this budget's, not the candidate's. The canary compares answering
 * latency like for like.
 */
export class ShadowScorer {
  private waiting: Copy[] = [];
  private waitingRows = 0;
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  inFlight = 0;

  constructor(
    private readonly scorer: OnnxScorer,
    private readonly features: number,
    /** Whether the answers' batcher has nothing waiting: the moment to score copies. */
    private readonly idle: () => boolean,
    private readonly maxRows: number,
  ) {}

  /** Takes a copy to score, or refuses it (false) when maxRows are already waiting. */
  offer(rows: Float32Array, count: number, done: ShadowDone): boolean {
    if (this.waitingRows + count > this.maxRows) return false;
    if (this.waiting.length === 0) this.since = performance.now();
    this.waiting.push({ rows, count, done });
    this.waitingRows += count;
    this.inFlight++;
    this.timer ??= setTimeout(this.look, LOOK_MS);
    return true;
  }

  private readonly look = () => {
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    if (this.running || (!this.idle() && performance.now() - this.since < MAX_WAIT_MS)) {
      this.timer = setTimeout(this.look, LOOK_MS);
      return;
    }
    void this.score();
  };

  private async score(): Promise<void> {
    const batch = this.waiting;
    const total = this.waitingRows;
    this.waiting = [];
    this.waitingRows = 0;
    this.running = true;
    const t0 = performance.now();
    try {
      const scores = await scoreTogether(this.scorer, this.features, batch, total);
      const latencyMs = performance.now() - t0;
      batch.forEach((c, i) => c.done({ scores: scores[i], latencyMs }));
    } catch (error) {
      const latencyMs = performance.now() - t0;
      for (const c of batch) c.done({ error, latencyMs });
    } finally {
      this.running = false;
      this.inFlight -= batch.length;
      if (this.waiting.length > 0) this.timer ??= setTimeout(this.look, LOOK_MS);
    }
  }

  /** Resolves once every copy taken has been scored. */
  drained(): Promise<void> {
    return drained(() => this.inFlight);
  }
}
