import fs from 'node:fs';
import path from 'node:path';
import { unitHash } from '../ml/split';
import { csvLine, readCsv, writeCsv } from './csv';

/**
 * Shipped data as the stream it would have been: a file with a time column
 * (bike-sharing's dteday) is replayed in time order; one without (credit-default)
 * gets an order from a seeded hash of each row's ID (REPLAY_SEED), or for a
 * file without one (idColumn null) of its whole line. The rows are cut into
 * equal "monthly" batches. The same file always gives the same batches, byte
 * for byte.
 */
export const REPLAY_SEED = 2005;

export function replayBatches(csv: string, outDir: string, months: number, idColumn: string | null = 'ID', timeColumn?: string): string[] {
  const [header = [], ...records] = readCsv(csv).map((r) => r.cells);
  const idIndex = idColumn === null ? -1 : header.indexOf(idColumn);
  if (idColumn !== null && idIndex < 0) throw new Error(`no "${idColumn}" column in the header`);
  const timeIndex = timeColumn === undefined ? -1 : header.indexOf(timeColumn);
  if (timeColumn !== undefined && timeIndex < 0) throw new Error(`no "${timeColumn}" column in the header`);
  const keyed = records.map((cells) => ({ cells, time: timeIndex < 0 ? 0 : Date.parse(cells[timeIndex]), key: unitHash(REPLAY_SEED, idIndex < 0 ? csvLine(cells) : cells[idIndex]) }));
  // Rows of the same time (hours of one day) keep the file's order: a stable sort on time alone.
  if (timeIndex >= 0) keyed.sort((a, b) => a.time - b.time);
  else keyed.sort((a, b) => a.key - b.key);
  fs.mkdirSync(outDir, { recursive: true });
  const size = Math.ceil(keyed.length / months);
  const files: string[] = [];
  for (let m = 0; m < months; m++) {
    const file = path.join(outDir, `month-${String(m + 1).padStart(2, '0')}.csv`);
    const rows = keyed.slice(m * size, (m + 1) * size).map((k) => k.cells);
    fs.writeFileSync(file, writeCsv([header, ...rows]));
    files.push(file);
  }
  return files;
}
