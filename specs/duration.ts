/** Durations as Temporal spells them ("90s", "15m", "72h", "7d"). Pure: workflows use it for deadlines. */
export const DURATION = /^(\d+)(ms|s|m|h|d)$/;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function durationMs(d: string): number {
  const m = DURATION.exec(d);
  if (!m) throw new Error(`not a duration: "${d}"`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
