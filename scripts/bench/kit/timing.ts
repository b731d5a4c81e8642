/**
 * Epoch milliseconds with sub-millisecond resolution. The load generator's
 * records and the rollout windows are taken in different processes and are
 * compared on this one clock.
 */
export const now = () => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The p-quantile of ascending values, by nearest rank; NaN when there are none. */
export const pct = (sorted: ArrayLike<number>, p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);

/** Ascending copy: a Float64Array sorts numerically, without a comparator call per pair. */
export const sortedOf = (xs: number[]) => Float64Array.from(xs).sort();
