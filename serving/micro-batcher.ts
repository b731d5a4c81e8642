import type { OnnxScorer } from '../ml/scoring';

interface Pending {
  rows: Float32Array;
  count: number;
  resolve: (scores: Float32Array) => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers concurrent requests for one model for at most maxDelayMs (or until
 * maxRows rows are waiting) and scores them in one ONNX Runtime call, then
 * answers each request with its own rows' scores.
 */
export class MicroBatcher {
  private queue: Pending[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  inFlight = 0;

  constructor(
    private readonly scorer: OnnxScorer,
    private readonly features: number,
    private readonly maxRows: number,
    private readonly maxDelayMs: number,
    private readonly onBatch: (rows: number) => void = () => undefined,
  ) {}

  score(rows: Float32Array, count: number): Promise<Float32Array> {
    this.inFlight++;
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.push({ rows, count, resolve, reject });
      this.queuedRows += count;
      if (this.queuedRows >= this.maxRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
    }).finally(() => this.inFlight--);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    const total = this.queuedRows;
    this.queue = [];
    this.queuedRows = 0;
    if (batch.length === 0) return;
    const x = new Float32Array(total * this.features);
    let offset = 0;
    for (const p of batch) {
      x.set(p.rows, offset * this.features);
      offset += p.count;
    }
    this.onBatch(total);
    this.scorer.score(x, total).then(
      (scores) => {
        let at = 0;
        for (const p of batch) {
          p.resolve(scores.slice(at, at + p.count));
          at += p.count;
        }
      },
      (err) => batch.forEach((p) => p.reject(err)),
    );
  }

  /** Resolves once every request handed to this batcher has been answered. */
  async drained(): Promise<void> {
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  }
}
