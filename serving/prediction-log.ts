import type { Pool } from 'pg';
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

const FLUSH_ROWS = 2_000;
/** Rows formatted per event-loop turn: formatting is synchronous, and requests must not wait behind it. */
const FORMAT_SLICE = 250;
const FLUSH_MS = 500;
/** Rows per INSERT: large enough to amortise the round trip, small enough to keep each statement short. */
const INSERT_ROWS = 5_000;

/**
 * The prediction log, off the response path: a request only appends to a
 * bounded in-memory buffer; a timer writes it to PostgreSQL in batches. When
 * the buffer is full (the database is slow or down) records are dropped and
 * counted rather than slowing or failing predictions.
 */
export class PredictionLog {
  private buffer: PredictionRecord[] = [];
  private bufferedRows = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Pool,
    private readonly replica: string,
    private readonly maxRows: number,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
  }

  record(r: PredictionRecord): void {
    if (this.bufferedRows + r.rows > this.maxRows) {
      servingMetrics.logDropped.inc(r.rows);
      return;
    }
    this.buffer.push(r);
    this.bufferedRows += r.rows;
    if (this.bufferedRows >= FLUSH_ROWS) void this.flush();
  }

  /** Writes what is buffered; one write at a time, so a slow database backs up into the (bounded) buffer. */
  flush(): Promise<void> {
    if (this.flushing || this.buffer.length === 0) return this.flushing ?? Promise.resolve();
    const batch = this.buffer;
    const rows = this.bufferedRows;
    this.buffer = [];
    this.bufferedRows = 0;
    this.flushing = this.write(batch)
      .then(() => servingMetrics.logged.inc(rows))
      .catch((err) => {
        servingMetrics.logDropped.inc(rows);
        logger.warn({ err, rows }, 'prediction log write failed; rows dropped');
      })
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(batch: PredictionRecord[]): Promise<void> {
    const cols = { at: [] as number[], model: [] as string[], version: [] as number[], role: [] as string[], requestId: [] as string[], rowIndex: [] as number[], latency: [] as number[], ok: [] as boolean[], score: [] as (number | null)[], features: [] as string[], rowId: [] as (string | null)[], dataTime: [] as (number | null)[] };
    const send = async () => {
      if (cols.at.length === 0) return;
      await this.db.query(
        `INSERT INTO predictions (at, model, version, role, request_id, row_index, replica, latency_ms, ok, score, features, row_id, data_time)
         SELECT to_timestamp(t.at / 1000.0), t.model, t.version, t.role, t.request_id, t.row_index, $12, t.latency_ms, t.ok, t.score, t.features::real[], t.row_id, to_timestamp(t.data_time / 1000.0)
           FROM unnest($1::float8[], $2::text[], $3::int[], $4::text[], $5::uuid[], $6::int[], $7::real[], $8::bool[], $9::real[], $10::text[], $11::text[], $13::float8[])
             AS t(at, model, version, role, request_id, row_index, latency_ms, ok, score, features, row_id, data_time)`,
        [cols.at, cols.model, cols.version, cols.role, cols.requestId, cols.rowIndex, cols.latency, cols.ok, cols.score, cols.features, cols.rowId, this.replica, cols.dataTime],
      );
      for (const c of Object.values(cols)) c.length = 0;
    };
    let formatted = 0;
    for (const r of batch) {
      const F = r.features.length / r.rows;
      for (let i = 0; i < r.rows; i++) {
        cols.at.push(r.at);
        cols.model.push(r.model);
        cols.version.push(r.version);
        cols.role.push(r.role);
        cols.requestId.push(r.requestId);
        cols.rowIndex.push(i);
        cols.latency.push(r.latencyMs);
        cols.ok.push(r.ok);
        cols.score.push(r.scores ? r.scores[i] : null);
        cols.features.push(`{${r.features.subarray(i * F, (i + 1) * F).join(',')}}`);
        cols.rowId.push(r.ids[i]);
        cols.dataTime.push(r.times[i]);
      }
      if (cols.at.length >= INSERT_ROWS) await send();
      formatted += r.rows;
      if (formatted >= FORMAT_SLICE) {
        formatted = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await send();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }
}
