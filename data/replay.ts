import fs from 'node:fs';
import path from 'node:path';
import { unitHash } from '../ml/split';
import { csvLine, readCsv, writeCsv } from './csv';

/**
 * The shipped credit-default file has no time column, so the replay defines one:
 * rows are ordered by a seeded hash of their ID (REPLAY_SEED), or for a file
 * without one (idColumn null) of their whole line, and cut into equal "monthly"
 * batches. The same file always gives the same batches, byte for byte.
 */
export const REPLAY_SEED = 2005;

export function replayBatches(csv: string, outDir: string, months: number, idColumn: string | null = 'ID'): string[] {
  const [header = [], ...records] = readCsv(csv).map((r) => r.cells);
  const idIndex = idColumn === null ? -1 : header.indexOf(idColumn);
  if (idColumn !== null && idIndex < 0) throw new Error(`no "${idColumn}" column in the header`);
  const keyed = records.map((cells) => ({ cells, key: unitHash(REPLAY_SEED, idIndex < 0 ? csvLine(cells) : cells[idIndex]) }));
  keyed.sort((a, b) => a.key - b.key);
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
