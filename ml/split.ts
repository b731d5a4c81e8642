/**
 * Reproducible train/validation/test assignment. A row's split depends only on
 * its id and the seed, never on which snapshot it is in, so a row that was test
 * data for one version is never training data for the next.
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

export function splitRows<T extends { id: string }>(rows: T[], f: SplitFractions): Record<SplitName, T[]> {
  const out: Record<SplitName, T[]> = { train: [], validation: [], test: [] };
  for (const r of rows) out[splitOf(r.id, f)].push(r);
  return out;
}
