import type { PricePoint } from './prices';

/**
 * The time-weighted average price over [start, end), or undefined when the curve
 * leaves any part of it uncovered: a guess for the gap could make an expensive
 * hour look cheap.
 */
export function averagePrice(curve: PricePoint[], start: Date, end: Date): number | undefined {
  const from = start.getTime();
  const to = end.getTime();
  if (!(to > from)) return undefined;
  const parts = curve
    .map((p) => ({ start: Math.max(Date.parse(p.start), from), end: Math.min(Date.parse(p.end), to), price: p.pricePerMWh }))
    .filter((p) => p.end > p.start)
    .sort((a, b) => a.start - b.start);
  let reached = from;
  let weighted = 0;
  for (const p of parts) {
    if (p.start > reached) return undefined;
    // Overlapping points (a feed repeating an hour) are counted once, first come first used.
    if (p.end <= reached) continue;
    weighted += p.price * (p.end - reached);
    reached = p.end;
  }
  return reached >= to ? weighted / (to - from) : undefined;
}

export interface WindowRequest {
  curve: PricePoint[];
  now: Date;
  durationMs: number;
  /** The run must have finished by then. */
  deadline: Date;
  /** Take the earliest window averaging at most this, rather than hold out for the cheapest. */
  ceilingPerMWh?: number;
  /** Candidate starts after `now` fall on multiples of this (15 min), as market intervals do. */
  stepMs?: number;
}

export interface WindowChoice {
  start: Date;
  end: Date;
  /** Per MWh over the run; null when the curve does not cover it. */
  averagePrice: number | null;
  reason: 'cheapest-before-deadline' | 'below-ceiling' | 'now';
  explanation: string;
  /** Fraction of the price saved against starting now; null when that price is unknown or not positive. */
  savingsVsNow: number | null;
}

const STEP_MS = 15 * 60_000;
// Averages of the same prices summed in another order differ in the last bits; such ties go to the earlier start.
const TIE = 1e-9;

function candidateStarts(now: number, latest: number, step: number): number[] {
  const starts = [now];
  for (let t = Math.ceil(now / step) * step; t <= latest; t += step) if (t > now) starts.push(t);
  // The last possible start can catch a cheap spell that ends right at the deadline.
  if (starts[starts.length - 1] < latest) starts.push(latest);
  return starts;
}

/** When to start a run of `durationMs` so it costs least, or first drops under a ceiling, and still ends by the deadline. */
export function cheapestWindow(input: WindowRequest): WindowChoice {
  const { curve, now, durationMs, deadline, ceilingPerMWh } = input;
  const step = input.stepMs ?? STEP_MS;
  if (!(step > 0)) throw new Error(`stepMs must be positive, got ${step}`);
  if (!(durationMs > 0)) throw new Error(`durationMs must be positive, got ${durationMs}`);
  const currency = curve[0]?.currency ?? '';
  const money = (v: number) => `${v.toFixed(2)}${currency ? ` ${currency}` : ''}/MWh`;
  const at = (start: number) => new Date(start).toISOString();

  const nowPrice = averagePrice(curve, now, new Date(now.getTime() + durationMs));
  const choice = (start: number, avg: number | undefined, reason: WindowChoice['reason'], why: string): WindowChoice => ({
    start: new Date(start),
    end: new Date(start + durationMs),
    averagePrice: avg ?? null,
    reason,
    explanation: why,
    savingsVsNow: avg !== undefined && nowPrice !== undefined && nowPrice > 0 ? (nowPrice - avg) / nowPrice : null,
  });

  const latest = deadline.getTime() - durationMs;
  if (now.getTime() >= latest) {
    return choice(now.getTime(), nowPrice, 'now',
      `Starting now: begun now, the ${Math.round(durationMs / 60_000)}-minute run ends at ${at(now.getTime() + durationMs)}, no earlier than the deadline ${at(deadline.getTime())}, so there is no time to wait for cheaper power.`);
  }

  const eligible = candidateStarts(now.getTime(), latest, step)
    .map((start) => ({ start, avg: averagePrice(curve, new Date(start), new Date(start + durationMs)) }))
    .filter((c): c is { start: number; avg: number } => c.avg !== undefined);
  if (eligible.length === 0) {
    const last = curve.reduce((max, p) => Math.max(max, Date.parse(p.end)), -Infinity);
    const covered = Number.isFinite(last) ? `it ends at ${at(last)}` : 'it is empty';
    return choice(now.getTime(), nowPrice, 'now',
      `Starting now: the price curve does not cover any whole run that ends before the deadline ${at(deadline.getTime())} (${covered}).`);
  }

  const versusNow = nowPrice === undefined ? '' : ` against ${money(nowPrice)} if started now`;
  if (ceilingPerMWh !== undefined) {
    const under = eligible.find((c) => c.avg <= ceilingPerMWh);
    if (under) {
      return choice(under.start, under.avg, 'below-ceiling',
        `Starting at ${at(under.start)}: the earliest run averaging at most the ceiling of ${money(ceilingPerMWh)} (${money(under.avg)}${versusNow}).`);
    }
  }
  const best = eligible.reduce((a, c) => (c.avg < a.avg - TIE ? c : a));
  const noneUnder = ceilingPerMWh === undefined ? '' : ` No run before the deadline stays under the ceiling of ${money(ceilingPerMWh)}.`;
  return choice(best.start, best.avg, 'cheapest-before-deadline',
    `Starting at ${at(best.start)}: the cheapest run that ends by the deadline ${at(deadline.getTime())} (${money(best.avg)}${versusNow}).${noneUnder}`);
}
