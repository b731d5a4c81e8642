import fs from 'node:fs';
import path from 'node:path';
import { unitHash } from '../ml/split';
import { csvLine, readCsv, writeCsv } from './csv';

/**
 * Shipped data as the stream it would have been: a file with a time column
 * (bike-sharing's dteday) is replayed in time order; one without (credit-default)
 * gets an order from a seeded hash of each row's ID (REPLAY_SEED), or for a
 * file without one (idColumn null) of its whole line. The rows are cut into
 * equal "monthly" batches. The same file and seed always give the same
 * batches, byte for byte; other seeds give other orders (the drift benchmark's
 * replays).
 */
export const REPLAY_SEED = 2005;

export function replayBatches(csv: string, outDir: string, months: number, idColumn: string | null = 'ID', timeColumn?: string, seed = REPLAY_SEED): string[] {
  const { header, rows } = replayOrder(csv, idColumn, timeColumn, seed);
  return writeMonths(header, monthsOf(rows, months).map((month) => month.map((r) => r.cells)), outDir);
}

/** Rows cut into `months` consecutive batches of equal size (the last may be shorter). */
export function monthsOf<T>(rows: T[], months: number): T[][] {
  const size = Math.ceil(rows.length / months);
  return Array.from({ length: months }, (_, m) => rows.slice(m * size, (m + 1) * size));
}

/** A file's rows in replay order (see replayBatches), each with the key that ordered it. */
export function replayOrder(csv: string, idColumn: string | null = 'ID', timeColumn?: string, seed = REPLAY_SEED): { header: string[]; rows: { cells: string[]; key: number }[] } {
  const [header = [], ...records] = readCsv(csv).map((r) => r.cells);
  const idIndex = idColumn === null ? -1 : header.indexOf(idColumn);
  if (idColumn !== null && idIndex < 0) throw new Error(`no "${idColumn}" column in the header`);
  const timeIndex = timeColumn === undefined ? -1 : header.indexOf(timeColumn);
  if (timeColumn !== undefined && timeIndex < 0) throw new Error(`no "${timeColumn}" column in the header`);
  const keyed = records.map((cells) => ({ cells, time: timeIndex < 0 ? 0 : Date.parse(cells[timeIndex]), key: unitHash(seed, idIndex < 0 ? csvLine(cells) : cells[idIndex]) }));
  // Rows of the same time (hours of one day) keep the file's order: a stable sort on time alone.
  if (timeIndex >= 0) keyed.sort((a, b) => a.time - b.time);
  else keyed.sort((a, b) => a.key - b.key);
  return { header, rows: keyed.map(({ cells, key }) => ({ cells, key })) };
}

/** Writes each month's rows as month-NN.csv under outDir, with the header; returns the files in month order. */
export function writeMonths(header: string[], months: string[][][], outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  return months.map((rows, m) => {
    const file = path.join(outDir, `month-${String(m + 1).padStart(2, '0')}.csv`);
    fs.writeFileSync(file, writeCsv([header, ...rows]));
    return file;
  });
}
