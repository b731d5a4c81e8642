import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { unitHash } from '../ml/split';

/**
 * The shipped credit-default file has no time column, so the replay defines one:
 * rows are ordered by a seeded hash of their ID (REPLAY_SEED) and cut into equal
 * "monthly" batches. The same file always gives the same batches, byte for byte.
 */
export const REPLAY_SEED = 2005;

export function replayBatches(csvPath: string, outDir: string, months: number, idColumn = 'ID'): string[] {
  const text = fs.readFileSync(csvPath, 'utf8');
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0];
  const idIndex = (parse(header) as string[][])[0].indexOf(idColumn);
  if (idIndex < 0) throw new Error(`${csvPath}: no "${idColumn}" column in the header`);
  const keyed = lines.slice(1).map((line) => ({ line, key: unitHash(REPLAY_SEED, line.split(',')[idIndex]) }));
  keyed.sort((a, b) => a.key - b.key);
  fs.mkdirSync(outDir, { recursive: true });
  const size = Math.ceil(keyed.length / months);
  const files: string[] = [];
  for (let m = 0; m < months; m++) {
    const file = path.join(outDir, `month-${String(m + 1).padStart(2, '0')}.csv`);
    const rows = keyed.slice(m * size, (m + 1) * size).map((k) => k.line);
    fs.writeFileSync(file, [header, ...rows].join('\n') + '\n');
    files.push(file);
  }
  return files;
}
