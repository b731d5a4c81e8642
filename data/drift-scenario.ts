import fs from 'node:fs';
import path from 'node:path';
import { readCsv, writeCsv } from './csv';

/**
 * The drift scenario people can watch and we can measure. From replay month
 * SHIFT_FROM on, defaulters stop showing payment delays before they default
 * (as after a payment-holiday scheme, when delays are no longer reported): their
 * repayment statuses PAY_0…PAY_6 read -1, "paid duly", where they had been
 * 1–8 months late. The features a champion leans on most lose their meaning for
 * exactly the clients it exists to catch: input drift in PAY_*, score drift,
 * and live AUC decay once labels arrive.
 */
export const SHIFT_FROM = 4;
export const SHIFTED_COLUMNS = ['PAY_0', 'PAY_2', 'PAY_3', 'PAY_4', 'PAY_5', 'PAY_6'];

/** Applies the shift to one replay batch file (raw CSV with a header), writing the shifted copy. */
export function shiftBatch(file: string, outFile: string, label = 'default.payment.next.month'): string {
  const [header = [], ...rows] = readCsv(fs.readFileSync(file, 'utf8')).map((r) => r.cells);
  const labelAt = header.indexOf(label);
  const at = SHIFTED_COLUMNS.map((c) => header.indexOf(c));
  if (labelAt < 0 || at.some((i) => i < 0)) throw new Error(`${file}: expected columns ${label} and ${SHIFTED_COLUMNS.join(', ')}`);
  for (const cells of rows) if (cells[labelAt] === '1') for (const i of at) if (Number(cells[i]) >= 1) cells[i] = '-1';
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, writeCsv([header, ...rows]));
  return outFile;
}

/** The replay's monthly batches with the shift applied from SHIFT_FROM on (1-based months). */
export function driftReplay(files: string[], outDir: string): string[] {
  return files.map((f, i) => (i + 1 >= SHIFT_FROM ? shiftBatch(f, path.join(outDir, `shifted-${path.basename(f)}`)) : f));
}
