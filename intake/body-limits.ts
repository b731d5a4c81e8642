import type { Readable } from 'node:stream';
import { MAX_LINE_CHARS } from '../specs/data-batch';

/** The most bytes a line within MAX_LINE_CHARS characters can take in UTF-8. */
const MAX_LINE_BYTES = MAX_LINE_CHARS * 4;
const NEWLINE = 0x0a;

export type BodyLimits = { maxBytes: number; maxRows: number };

/** A body refused while it streamed in: what was over which limit, and where. */
export class BodyLimitError extends Error {
  readonly statusCode = 413;
}

/**
 * Reads a batch body as it streams in and stops at the first limit it breaks,
 * so a body that could never be a batch costs at most the limit in memory, not
 * its own size. For CSV it counts rows and each line's bytes on the way; a
 * Parquet file's rows are counted when it is validated. The rest of a refused
 * body is read and dropped, so the connection stays usable for the answer.
 */
export function readBatchBody(stream: Readable, csv: boolean, limits: BodyLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let line = 1;
    let lineBytes = 0;
    const refuse = (message: string) => {
      stream.off('data', onData).off('end', onEnd).on('error', () => undefined);
      stream.resume();
      reject(new BodyLimitError(message));
    };
    // The header line is not a row; a last line without a newline is.
    const tooManyRows = (rows: number) => rows > limits.maxRows && (refuse(`the batch has more than ${limits.maxRows} rows (line ${line} and on); split it`), true);
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) return refuse(`the body is larger than ${limits.maxBytes} bytes; send larger batches through the S3 landing area (incoming/<model>/)`);
      if (csv) {
        let from = 0;
        for (let nl = chunk.indexOf(NEWLINE); nl >= 0 && lineBytes + nl - from <= MAX_LINE_BYTES; nl = chunk.indexOf(NEWLINE, from)) {
          lineBytes = 0;
          from = nl + 1;
          line++;
          if (tooManyRows(line - 2)) return;
        }
        lineBytes += chunk.length - from;
        if (lineBytes > MAX_LINE_BYTES) return refuse(`line ${line} is longer than ${MAX_LINE_BYTES} bytes: no row of a table is; is this the right file?`);
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (csv && tooManyRows(line - 2 + (lineBytes > 0 ? 1 : 0))) return;
      resolve(Buffer.concat(chunks, bytes));
    };
    stream.on('data', onData).once('end', onEnd).once('error', reject);
  });
}
