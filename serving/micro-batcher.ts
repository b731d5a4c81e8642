import type { OnnxScorer } from '../ml/scoring';
import { drained, scoreTogether } from './batch-scoring';

interface Pending {
  rows: Float32Array;
  count: number;
  resolve: (scores: Float32Array) => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers concurrent requests for one model for at most maxDelayMs (or until
 * maxRows rows are waiting) and scores them in one ONNX Runtime call, then
 * answers each request with its own rows' scores (scorer.output.width numbers
 * per row). A delay of 0 waits for no
 * timer: the batch is what arrived in the same turn of the event loop.
 */
export class MicroBatcher {
  private queue: Pending[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly flushNow = () => this.flush();
  inFlight = 0;

  constructor(
    private readonly scorer: OnnxScorer,
    private readonly features: number,
    private readonly maxRows: number,
    private readonly maxDelayMs: number,
    private readonly onBatch: (rows: number) => void = () => undefined,
  ) {}

  /** Nothing waiting to be scored: a moment that lower-priority work (shadow copies) may take. */
  get idle(): boolean {
    return this.queue.length === 0;
  }

  score(rows: Float32Array, count: number): Promise<Float32Array> {
    this.inFlight++;
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.push({ rows, count, resolve, reject });
      this.queuedRows += count;
      if (this.queuedRows >= this.maxRows) this.flush();
      else if (this.maxDelayMs > 0) this.timer ??= setTimeout(this.flushNow, this.maxDelayMs);
      else this.immediate ??= setImmediate(this.flushNow);
    });
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.queue;
    const total = this.queuedRows;
    this.queue = [];
    this.queuedRows = 0;
    if (batch.length === 0) return;
    this.onBatch(total);
    scoreTogether(this.scorer, this.features, batch, total).then(
      (scores) => {
        this.inFlight -= batch.length;
        batch.forEach((p, i) => p.resolve(scores[i]));
      },
      (err) => {
        this.inFlight -= batch.length;
        for (const p of batch) p.reject(err);
      },
    );
  }

  /** Resolves once every request handed to this batcher has been answered. */
  drained(): Promise<void> {
    return drained(() => this.inFlight);
  }
}
