import { unitHash } from '../ml/split';
import { monthsOf, REPLAY_SEED, replayOrder, writeMonths } from './replay';

/**
 * Drift scenarios of the credit-default replay that never read the label, so
 * that seeing them is as hard as seeing real drift: what changes is who the
 * clients are, or what their features mean, never "the defaulters look
 * different". From month SHIFT_FROM on:
 *
 * - covariate: a new client segment enters, young clients with low limits
 *   (AGE ≤ 29, LIMIT_BAL ≤ 50,000: 11% of the file, absent from the months
 *   before, a fifth of each month after). Each row is used once; how default
 *   depends on the features is untouched.
 * - concept: repayment delays stop predicting default as strongly: for half of
 *   each month's clients (chosen by id), PAY_0…PAY_6 are another such client's.
 *   The statuses' distribution is unchanged; their link to default weakens.
 * - control: the plain replay, for false alarms.
 */
export const SHIFT_FROM = 4;
export const DRIFT_SCENARIOS = ['control', 'covariate', 'concept'] as const;
export type DriftScenario = (typeof DRIFT_SCENARIOS)[number];
export const NEW_SEGMENT = { maxAge: 29, maxLimit: 50_000 };
export const DELAY_COLUMNS = ['PAY_0', 'PAY_2', 'PAY_3', 'PAY_4', 'PAY_5', 'PAY_6'];
export const CONCEPT_SHARE = 0.5;

/** The scenario's monthly batches of the credit-default file, in the replay order of `seed`. */
export function driftScenarioBatches(csv: string, outDir: string, scenario: DriftScenario, opts: { months?: number; seed?: number } = {}): string[] {
  const months = opts.months ?? 6;
  const seed = opts.seed ?? REPLAY_SEED;
  const { header, rows } = replayOrder(csv, 'ID', undefined, seed);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`the credit-default scenarios need a ${name} column`);
    return i;
  };
  const [age, limit, id] = [col('AGE'), col('LIMIT_BAL'), col('ID')];
  const shiftAt = SHIFT_FROM - 1;
  let monthly = monthsOf(rows, months);
  const sizes = monthly.map((m) => m.length);

  if (scenario === 'covariate') {
    const inSegment = (r: (typeof rows)[number]) => Number(r.cells[age]) <= NEW_SEGMENT.maxAge && Number(r.cells[limit]) <= NEW_SEGMENT.maxLimit;
    const segment = rows.filter(inSegment);
    const others = rows.filter((r) => !inSegment(r));
    // The segment's rows are shared out over the months from the shift on; the others fill every month to its size.
    const after = months - shiftAt;
    const take = sizes.map((n, m) => (m < shiftAt ? 0 : Math.min(n, Math.floor(segment.length / after) + (m - shiftAt < segment.length % after ? 1 : 0))));
    let s = 0;
    let o = 0;
    monthly = sizes.map((n, m) => {
      const fromSegment = segment.slice(s, (s += take[m]));
      const fromOthers = others.slice(o, (o += n - take[m]));
      // Spread evenly through the month, as clients would arrive: any stretch of it holds the segment at its share.
      const k = fromSegment.length;
      let [si, oi] = [0, 0];
      return Array.from({ length: n }, (_, i) => (Math.floor(((i + 1) * k) / n) > Math.floor((i * k) / n) ? fromSegment[si++] : fromOthers[oi++]));
    });
  }
  const cells = monthly.map((month) => month.map((r) => [...r.cells]));
  if (scenario === 'concept') {
    const delays = DELAY_COLUMNS.map(col);
    for (let m = shiftAt; m < months; m++) {
      const chosen = cells[m].filter((c) => unitHash(seed + 1, c[id]) < CONCEPT_SHARE);
      const statuses = chosen.map((c) => delays.map((j) => c[j]));
      chosen.forEach((c, k) => delays.forEach((j, d) => (c[j] = statuses[(k + 1) % statuses.length][d])));
    }
  }
  return writeMonths(header, cells, outDir);
}
