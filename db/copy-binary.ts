import type { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withClient } from './pool';

/**
 * Rows in PostgreSQL's binary COPY format, written into reusable slabs. The
 * prediction log writes thousands of rows a second from a replica that must
 * keep answering: text formats cost a float-to-text conversion per feature
 * here and its parse in the server, and node-pg's array parameters are
 * serialised in one synchronous pass. Binary rows cost a few stores each.
 */
export class BinaryCopyRows {
  private slab: Buffer;
  private at = 0;
  private done: Buffer[] = [];
  /** Rows written since the last take(). */
  rows = 0;

  constructor(
    private readonly fields: number,
    private readonly slabBytes = 256 * 1024,
  ) {
    this.slab = Buffer.allocUnsafe(slabBytes);
  }

  /** Starts a row that needs at most `bytes` bytes (fields included). */
  row(bytes: number): this {
    const need = bytes + 2;
    if (this.at + need > this.slab.length) {
      if (this.at > 0) this.done.push(this.slab.subarray(0, this.at));
      this.slab = Buffer.allocUnsafe(Math.max(this.slabBytes, need));
      this.at = 0;
    }
    this.slab.writeInt16BE(this.fields, this.at);
    this.at += 2;
    this.rows++;
    return this;
  }

  null(): this {
    this.slab.writeInt32BE(-1, this.at);
    this.at += 4;
    return this;
  }

  int4(v: number): this {
    this.slab.writeInt32BE(4, this.at);
    this.slab.writeInt32BE(v, this.at + 4);
    this.at += 8;
    return this;
  }

  float4(v: number): this {
    this.slab.writeInt32BE(4, this.at);
    this.slab.writeFloatBE(v, this.at + 4);
    this.at += 8;
    return this;
  }

  bool(v: boolean): this {
    this.slab.writeInt32BE(1, this.at);
    this.slab[this.at + 4] = v ? 1 : 0;
    this.at += 5;
    return this;
  }

  /** A timestamptz from milliseconds since 1970: microseconds since 2000-01-01 as an int64. */
  timestamp(ms: number): this {
    const us = (ms - POSTGRES_EPOCH_MS) * 1000;
    const hi = Math.floor(us / 2 ** 32);
    this.slab.writeInt32BE(8, this.at);
    this.slab.writeInt32BE(hi, this.at + 4);
    this.slab.writeUInt32BE(us - hi * 2 ** 32, this.at + 8);
    this.at += 12;
    return this;
  }

  /** Pre-encoded bytes (text already as UTF-8, a uuid's 16 bytes). */
  bytes(b: Uint8Array): this {
    this.slab.writeInt32BE(b.length, this.at);
    this.slab.set(b, this.at + 4);
    this.at += 4 + b.length;
    return this;
  }

  /** A text value; the row's size bound must have counted its UTF-8 length (textBytes). */
  text(s: string): this {
    const n = this.slab.write(s, this.at + 4, 'utf8');
    this.slab.writeInt32BE(n, this.at);
    this.at += 4 + n;
    return this;
  }

  /** A one-dimensional real[] (NaN stays NaN): 20 bytes of header and 8 per element. */
  float4Array(v: Float32Array, from: number, count: number): this {
    const s = this.slab;
    let at = this.at;
    s.writeInt32BE(20 + 8 * count, at);
    s.writeInt32BE(1, at + 4); // dimensions
    s.writeInt32BE(0, at + 8); // no nulls
    s.writeInt32BE(FLOAT4_OID, at + 12);
    s.writeInt32BE(count, at + 16);
    s.writeInt32BE(1, at + 20); // lower bound
    at += 24;
    for (let i = 0; i < count; i++) {
      s.writeInt32BE(4, at);
      s.writeFloatBE(v[from + i], at + 4);
      at += 8;
    }
    this.at = at;
    return this;
  }

  /** The rows written so far, as buffers to send; the writer starts afresh. */
  take(): { chunks: Buffer[]; rows: number } {
    if (this.at > 0) this.done.push(this.slab.subarray(0, this.at));
    const taken = { chunks: this.done, rows: this.rows };
    this.done = [];
    this.rows = 0;
    this.slab = Buffer.allocUnsafe(this.slabBytes);
    this.at = 0;
    return taken;
  }
}

const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const FLOAT4_OID = 700;
const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);

/** Bytes a text value takes as written by BinaryCopyRows.text (its length word included). */
export const textBytes = (s: string) => 4 + Buffer.byteLength(s, 'utf8');

/** A uuid's 16 bytes from its text form. */
export function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

/** Sends rows with one COPY ... FROM STDIN (FORMAT binary) into `target` ("table (col, ...)"); all or none of them land. */
export function copyRows(db: Pool, target: string, chunks: Buffer[]): Promise<void> {
  // A connection that failed mid-COPY may hold a half-sent stream: it is discarded, not reused.
  return withClient(
    db,
    (client) =>
      new Promise<void>((resolve, reject) => {
        const stream = client.query(copyFrom(`COPY ${target} FROM STDIN (FORMAT binary)`));
        stream.on('error', reject);
        stream.on('finish', resolve);
        stream.write(HEADER);
        for (const c of chunks) stream.write(c);
        stream.end(TRAILER);
      }),
    true,
  );
}
