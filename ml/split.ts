/**
 * Reproducible train/validation/test assignment. Without a time column a
 * row's split depends only on its id and the seed, never on which snapshot it
 * is in, so a row that was test data for one version is never training data
 * for the next. With one, the split is by time (splitsOf): the most recent
 * rows are the test split and those before them the validation split, as a
 * forecast is judged on a future it has not seen.
 * Pure code: workflows may import it.
 */
export type SplitName = 'train' | 'validation' | 'test';

export interface SplitFractions {
  seed: number;
  test: number;
  validation: number;
}

/** FNV-1a 32-bit of the seed and id, mapped to [0, 1). */
export function unitHash(seed: number, id: string): number {
  let h = 0x811c9dc5;
  const s = `${seed}:${id}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche so ids that differ only in their last digit spread evenly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x100000000;
}

export function splitOf(id: string, f: SplitFractions): SplitName {
  const u = unitHash(f.seed, id);
  if (u < f.test) return 'test';
  if (u < f.test + f.validation) return 'validation';
  return 'train';
}

/**
 * Every row's split: by id hash, or where times are given by time, the last
 * `test` share of the rows (by time, then id) the test split and the `validation`
 * share before it the validation split. The one place a split is decided.
 */
export function splitsOf(ids: readonly string[], f: SplitFractions, times?: ArrayLike<number>): SplitName[] {
  if (!times) return ids.map((id) => splitOf(id, f));
  const order = Array.from(ids, (_, i) => i).sort((a, b) => times[a] - times[b] || (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0));
  const testFrom = ids.length - Math.round(ids.length * f.test);
  const validationFrom = testFrom - Math.round(ids.length * f.validation);
  const out = new Array<SplitName>(ids.length);
  order.forEach((row, rank) => (out[row] = rank >= testFrom ? 'test' : rank >= validationFrom ? 'validation' : 'train'));
  return out;
}

export function splitRows<T extends { id: string; time?: number }>(rows: T[], f: SplitFractions): Record<SplitName, T[]> {
  const out: Record<SplitName, T[]> = { train: [], validation: [], test: [] };
  const timed = rows.length > 0 && rows.every((r) => r.time !== undefined);
  const names = splitsOf(rows.map((r) => r.id), f, timed ? rows.map((r) => r.time!) : undefined);
  rows.forEach((r, i) => out[names[i]].push(r));
  return out;
}
