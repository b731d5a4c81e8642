import type { Pool } from 'pg';
import { BinaryCopyRows, copyRows } from '../db/copy-binary';
import { logger } from '../config/logger';
import { servingMetrics } from './metrics';

/** One answered (or failed) request as the log keeps it: per row, with the features the version saw. */
export interface PredictionRecord {
  at: number;
  model: string;
  version: number;
  role: 'champion' | 'canary' | 'shadow';
  requestId: string;
  latencyMs: number;
  ok: boolean;
  rows: number;
  features: Float32Array;
  /** Each row's id where the client sent one: delayed labels join on it. */
  ids: (string | null)[];
  /** Each row's time (ms since 1970) where the model has a time column and the client sent it. */
  times: (number | null)[];
  scores?: Float32Array;
}

const COLUMNS = 'predictions (at, model, version, role, request_id, row_index, replica, latency_ms, ok, score, features, row_id, data_time)';
const FLUSH_ROWS = 2_000;
const FLUSH_MS = 500;

/**
 * The prediction log, off the response path: a request only appends its
 * record to this turn's list; once the turn's answers have been written, the
 * records are encoded as binary COPY rows (a few stores per value, nothing
 * kept per record), and a timer sends them to PostgreSQL with one COPY per
 * flush. When the buffer is full (the database is slow or down) records are
 * dropped and counted rather than slowing or failing predictions.
 */
export class PredictionLog {
  private recorded: PredictionRecord[] = [];
  private recordedRows = 0;
  private encodeSoon: NodeJS.Immediate | undefined;
  private readonly encoded = new BinaryCopyRows(13);
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly replica: Buffer;
  /** Model and role names as UTF-8, encoded once. */
  private readonly names = new Map<string, Buffer>();

  constructor(
    private readonly db: Pool,
    replica: string,
    private readonly maxRows: number,
  ) {
    this.replica = Buffer.from(replica, 'utf8');
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
  }

  record(r: PredictionRecord): void {
    if (this.encoded.rows + this.recordedRows + r.rows > this.maxRows) {
      servingMetrics.logDropped.inc(r.rows);
      return;
    }
    this.recorded.push(r);
    this.recordedRows += r.rows;
    this.encodeSoon ??= setImmediate(this.encode);
  }

  private readonly encode = () => {
    this.encodeSoon = undefined;
    const records = this.recorded;
    this.recorded = [];
    this.recordedRows = 0;
    for (const r of records) this.encodeRecord(r);
    if (this.encoded.rows >= FLUSH_ROWS) void this.flush();
  };

  private name(s: string): Buffer {
    let b = this.names.get(s);
    if (!b) this.names.set(s, (b = Buffer.from(s, 'utf8')));
    return b;
  }

  private encodeRecord(r: PredictionRecord): void {
    const model = this.name(r.model);
    const role = this.name(r.role);
    const F = r.features.length / r.rows;
    const w = this.encoded;
    for (let i = 0; i < r.rows; i++) {
      const id = r.ids[i];
      const time = r.times[i];
      w.row()
        .timestamp(r.at)
        .bytes(model)
        .int4(r.version)
        .bytes(role)
        .uuid(r.requestId)
        .int4(i)
        .bytes(this.replica)
        .float4(r.latencyMs)
        .bool(r.ok);
      if (r.scores) w.float4(r.scores[i]);
      else w.null();
      w.float4Array(r.features, i * F, F);
      if (id === null) w.null();
      else w.text(id);
      if (time === null) w.null();
      else w.timestamp(time);
    }
  }

  /** Writes what is encoded; one write at a time, so a slow database backs up into the (bounded) buffer. */
  flush(): Promise<void> {
    if (this.flushing || this.encoded.rows === 0) return this.flushing ?? Promise.resolve();
    const { chunks, rows } = this.encoded.take();
    this.flushing = copyRows(this.db, COLUMNS, chunks)
      .then(() => servingMetrics.logged.inc(rows))
      .catch((err) => {
        servingMetrics.logDropped.inc(rows);
        logger.warn({ err, rows }, 'prediction log write failed; rows dropped');
      })
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.encodeSoon) clearImmediate(this.encodeSoon);
    this.encode();
    await this.flushing;
    await this.flush();
  }
}
