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
  /** The slab's bytes as big-endian numbers: DataView stores are a few instructions; Buffer's write methods check every argument. */
  private view: DataView;
  private at = 0;
  private done: Buffer[] = [];
  /** Rows written since the last take(). */
  rows = 0;

  constructor(
    private readonly fields: number,
    private readonly slabBytes = 256 * 1024,
  ) {
    this.slab = Buffer.allocUnsafe(slabBytes);
    this.view = viewOf(this.slab);
  }

  /** At least n bytes free in the slab; a full slab is kept for sending (a row may span two: the stream is one). */
  private room(n: number): DataView {
    if (this.at + n > this.slab.length) {
      if (this.at > 0) this.done.push(this.slab.subarray(0, this.at));
      this.slab = Buffer.allocUnsafe(Math.max(this.slabBytes, n));
      this.view = viewOf(this.slab);
      this.at = 0;
    }
    return this.view;
  }

  /** Starts a row: its fields follow, one call each, in the table's column order. */
  row(): this {
    this.room(2).setInt16(this.at, this.fields);
    this.at += 2;
    this.rows++;
    return this;
  }

  null(): this {
    this.room(4).setInt32(this.at, -1);
    this.at += 4;
    return this;
  }

  int4(v: number): this {
    const s = this.room(8);
    s.setInt32(this.at, 4);
    s.setInt32(this.at + 4, v);
    this.at += 8;
    return this;
  }

  float4(v: number): this {
    const s = this.room(8);
    s.setInt32(this.at, 4);
    s.setFloat32(this.at + 4, v);
    this.at += 8;
    return this;
  }

  bool(v: boolean): this {
    const s = this.room(5);
    s.setInt32(this.at, 1);
    s.setUint8(this.at + 4, v ? 1 : 0);
    this.at += 5;
    return this;
  }

  /** A timestamptz from milliseconds since 1970: microseconds since 2000-01-01 as an int64. */
  timestamp(ms: number): this {
    const us = (ms - POSTGRES_EPOCH_MS) * 1000;
    const hi = Math.floor(us / 2 ** 32);
    const s = this.room(12);
    s.setInt32(this.at, 8);
    s.setInt32(this.at + 4, hi);
    s.setUint32(this.at + 8, us - hi * 2 ** 32);
    this.at += 12;
    return this;
  }

  /** Pre-encoded bytes (text already as UTF-8). */
  bytes(b: Uint8Array): this {
    this.room(4 + b.length).setInt32(this.at, b.length);
    this.slab.set(b, this.at + 4);
    this.at += 4 + b.length;
    return this;
  }

  /** A uuid from its text form (8-4-4-4-12 hex digits, either case): its 16 bytes. */
  uuid(text: string): this {
    const s = this.room(20);
    s.setInt32(this.at, 16);
    let at = this.at + 4;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === DASH) continue;
      s.setUint8(at++, (hex(text.charCodeAt(i)) << 4) | hex(text.charCodeAt(++i)));
    }
    if (at !== this.at + 20) throw new Error(`not a uuid: ${text}`);
    this.at = at;
    return this;
  }

  /** A text value, as UTF-8. */
  text(v: string): this {
    // A UTF-16 unit takes at most 3 bytes of UTF-8: room enough without measuring first.
    const s = this.room(4 + 3 * v.length);
    const n = this.slab.write(v, this.at + 4, 'utf8');
    s.setInt32(this.at, n);
    this.at += 4 + n;
    return this;
  }

  /** A one-dimensional real[] (NaN stays NaN): 20 bytes of header and 8 per element. */
  float4Array(v: Float32Array, from: number, count: number): this {
    const s = this.room(24 + 8 * count);
    let at = this.at;
    s.setInt32(at, 20 + 8 * count);
    s.setInt32(at + 4, 1); // dimensions
    s.setInt32(at + 8, 0); // no nulls
    s.setInt32(at + 12, FLOAT4_OID);
    s.setInt32(at + 16, count);
    s.setInt32(at + 20, 1); // lower bound
    at += 24;
    for (let i = 0; i < count; i++) {
      s.setInt32(at, 4);
      s.setFloat32(at + 4, v[from + i]);
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
    this.view = viewOf(this.slab);
    this.at = 0;
    return taken;
  }
}

const viewOf = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const DASH = 0x2d;

/** A hex digit's value; anything else is an error (a uuid's text comes from randomUUID, never a client). */
function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  throw new Error(`not a hex digit: ${String.fromCharCode(c)}`);
}

const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const FLOAT4_OID = 700;
const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);

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
