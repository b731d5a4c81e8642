/**
 * Drift statistics comparing a reference sample (usually the training data) with a current window
 * (recent traffic). Pure functions over numeric columns: no I/O, no randomness, so the same inputs
 * always give the same report and a report can be recomputed later to audit a rollback decision.
 */

/**
 * Rule of thumb for PSI, the one most model-risk teams quote: below `stable` nobody should act,
 * above `major` the model is scoring a population it was not trained on.
 */
export const PSI_BANDS = { stable: 0.1, major: 0.25 } as const;

export type PsiBand = 'stable' | 'moderate' | 'major';

/** PSI < 0.1 stable, 0.1–0.25 moderate, > 0.25 major (0.25 itself still counts as moderate). */
export function psiBand(value: number): PsiBand {
  if (value < PSI_BANDS.stable) return 'stable';
  return value > PSI_BANDS.major ? 'major' : 'moderate';
}

/**
 * One row of the PSI table. Intervals are (lower, upper]; `null` stands for an open end rather than
 * ±Infinity so the table survives JSON.stringify. The missing bin has both ends null and `missing` set.
 * Shares are the raw fractions of all rows (NaN rows included), before the epsilon floor, so a report
 * shows what was observed; `contribution` is this bin's term of the PSI sum, to point at what moved.
 */
export interface PsiBin {
  lower: number | null;
  upper: number | null;
  missing: boolean;
  reference: number;
  current: number;
  contribution: number;
}

export interface PsiResult {
  value: number;
  /** Interior cut points taken from the reference; bins are (-∞, e0], (e0, e1], …, (e_last, ∞). */
  edges: number[];
  bins: PsiBin[];
}

export interface PsiOptions {
  /** Target number of quantile bins; fewer come out when the reference has ties or few distinct values. */
  bins?: number;
  /** Floor for an empty bin's share, which would otherwise make ln(c/r) infinite. */
  epsilon?: number;
}

export interface KsResult {
  /** Largest vertical gap between the two empirical CDFs. */
  d: number;
  /** Asymptotic p-value; NaN when either side has no non-NaN values. */
  pValue: number;
  /** Non-NaN values used on each side, so a reader can judge how far to trust the asymptotics. */
  n: number;
  m: number;
}

const DEFAULT_BINS = 10;
const DEFAULT_EPSILON = 1e-4;
/** KS on a feature with a handful of values is dominated by ties and says nothing PSI does not. */
const CONTINUOUS_MIN_DISTINCT = 11;

/** A column sorted once and shared by PSI and KS, since sorting is the only super-linear step. */
interface Column {
  /** Non-NaN values ascending (±Infinity kept: they are ordered and still belong in the tails). */
  sorted: Float64Array;
  missing: number;
  rows: number;
  distinct: number;
}

function column(x: ArrayLike<number>): Column {
  const values = new Float64Array(x.length);
  let k = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isNaN(v)) values[k++] = v;
  }
  const sorted = values.subarray(0, k).sort();
  let distinct = 0;
  for (let i = 0; i < k; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
  return { sorted, missing: x.length - k, rows: x.length, distinct };
}

/**
 * Cut points from the reference. With no more distinct values than bins each value gets its own bin,
 * because quantiles would merge a rare category into its neighbour (a 5% class of a 0/1 flag sits
 * below the 10% quantile). Otherwise the lower empirical quantiles at k/bins, deduplicated. The
 * reference maximum is never a cut: the bin above it would be empty in the reference by construction.
 */
function cutPoints(ref: Column, bins: number): number[] {
  const s = ref.sorted;
  const n = s.length;
  const cuts: number[] = [];
  if (n === 0) return cuts;
  const max = s[n - 1];
  const push = (v: number): void => {
    if (v !== max && (cuts.length === 0 || v !== cuts[cuts.length - 1])) cuts.push(v);
  };
  if (ref.distinct <= bins) {
    for (let i = 0; i < n; i++) push(s[i]);
  } else {
    for (let k = 1; k < bins; k++) push(s[Math.ceil((k * n) / bins) - 1]);
  }
  return cuts;
}

/** Index of the (lower, upper] bin holding v: the number of cuts strictly below v. */
function binOf(cuts: number[], v: number): number {
  let lo = 0, hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cuts[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function psiOf(ref: Column, cur: Column, bins: number, epsilon: number): PsiResult {
  const cuts = cutPoints(ref, bins);
  const count = (c: Column): Float64Array => {
    // Last slot is the missing bin.
    const counts = new Float64Array(cuts.length + 2);
    for (let i = 0; i < c.sorted.length; i++) counts[binOf(cuts, c.sorted[i])]++;
    counts[cuts.length + 1] = c.missing;
    return counts;
  };
  const rc = count(ref);
  const cc = count(cur);
  const out: PsiBin[] = [];
  let value = 0;
  const withMissing = ref.missing > 0 || cur.missing > 0;
  for (let b = 0; b < rc.length; b++) {
    const missing = b === cuts.length + 1;
    if (missing && !withMissing) continue;
    const r = rc[b] / ref.rows;
    const c = cc[b] / cur.rows;
    const contribution = psiTerm(r, c, epsilon);
    value += contribution;
    out.push({
      lower: missing || b === 0 ? null : cuts[b - 1],
      upper: missing || b === cuts.length ? null : cuts[b],
      missing,
      reference: r,
      current: c,
      contribution,
    });
  }
  return { value, edges: cuts, bins: out };
}

/** One bin's part of a PSI from the two shares, each floored at epsilon so an empty bin stays finite. */
function psiTerm(r: number, c: number, epsilon: number): number {
  const rf = Math.max(r, epsilon);
  const cf = Math.max(c, epsilon);
  return (cf - rf) * Math.log(cf / rf);
}

/**
 * PSI between two histograms over the same bins (edge devices report counts,
 * not values). Bins empty on both sides add nothing; either side empty throws.
 */
export function psiOfCounts(reference: ArrayLike<number>, current: ArrayLike<number>, epsilon = DEFAULT_EPSILON): number {
  if (reference.length !== current.length) throw new RangeError(`psiOfCounts: ${reference.length} reference bins, ${current.length} current`);
  const total = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);
  const [rn, cn] = [total(reference), total(current)];
  if (rn === 0 || cn === 0) throw new RangeError('psiOfCounts: reference and current need at least one count each');
  let value = 0;
  for (let b = 0; b < reference.length; b++) if (reference[b] > 0 || current[b] > 0) value += psiTerm(reference[b] / rn, current[b] / cn, epsilon);
  return value;
}

function checkPsiOptions(opts: PsiOptions | undefined): { bins: number; epsilon: number } {
  const bins = opts?.bins ?? DEFAULT_BINS;
  const epsilon = opts?.epsilon ?? DEFAULT_EPSILON;
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`psi: bins must be an integer >= 2, got ${bins}`);
  if (!(epsilon > 0 && epsilon < 1)) throw new RangeError(`psi: epsilon must be in (0, 1), got ${epsilon}`);
  return { bins, epsilon };
}

/**
 * Population Stability Index: Σ (c − r)·ln(c / r) over bins cut at reference quantiles, NaN rows in a
 * bin of their own so that a feature going missing counts as drift. Throws on an empty side: a PSI of
 * "nothing" has no meaning and a NaN would silently compare as not drifted.
 */
export function psi(reference: ArrayLike<number>, current: ArrayLike<number>, opts?: PsiOptions): PsiResult {
  const { bins, epsilon } = checkPsiOptions(opts);
  if (reference.length === 0 || current.length === 0) throw new RangeError('psi: reference and current need at least one row each');
  return psiOf(column(reference), column(current), bins, epsilon);
}

/**
 * Survival function of the Kolmogorov distribution, Q(λ) = P(K > λ). Two series because each converges
 * in a few terms only on its own side: the alternating one stalls for small λ, the theta-function form
 * (via P(K ≤ λ)) for large λ.
 */
export function kolmogorovSurvival(lambda: number): number {
  if (Number.isNaN(lambda)) return Number.NaN;
  // Below 0.2, 1 − Q is under 1e-12, and the theta form would compute 0·∞ for tiny λ.
  if (lambda < 0.2) return 1;
  if (lambda < 1.18) {
    const t = -(Math.PI * Math.PI) / (8 * lambda * lambda);
    let cdf = 0;
    for (let j = 1; j <= 9; j += 2) cdf += Math.exp(j * j * t);
    cdf *= Math.sqrt(2 * Math.PI) / lambda;
    return Math.min(1, Math.max(0, 1 - cdf));
  }
  let q = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    q += j % 2 === 1 ? term : -term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * q));
}

function ksOf(ref: Column, cur: Column): KsResult {
  const a = ref.sorted, b = cur.sorted;
  const n = a.length, m = b.length;
  if (n === 0 || m === 0) return { d: Number.NaN, pValue: Number.NaN, n, m };
  let i = 0, j = 0, d = 0;
  while (i < n && j < m) {
    // Step past every copy of the smaller value on both sides before comparing, so ties never open a gap.
    const x = a[i] <= b[j] ? a[i] : b[j];
    while (i < n && a[i] === x) i++;
    while (j < m && b[j] === x) j++;
    const gap = Math.abs(i / n - j / m);
    if (gap > d) d = gap;
  }
  // Stephens' small-sample correction to √ne·D keeps the asymptotic p-value usable down to ne ≈ 4.
  const ne = (n * m) / (n + m);
  const sq = Math.sqrt(ne);
  return { d, pValue: kolmogorovSurvival((sq + 0.12 + 0.11 / sq) * d), n, m };
}

/** Two-sample Kolmogorov–Smirnov test, NaN values ignored. */
export function ks(reference: ArrayLike<number>, current: ArrayLike<number>): KsResult {
  return ksOf(column(reference), column(current));
}

export interface DriftInput {
  features: string[];
  /** One column per feature, in `features` order. */
  reference: Float64Array[];
  current: Float64Array[];
  referenceScores?: ArrayLike<number>;
  currentScores?: ArrayLike<number>;
  psiThreshold: number;
  /** Features to treat as categorical whatever their distinct count: PSI only, no KS. */
  discrete?: ReadonlySet<string> | readonly string[];
  bins?: number;
}

export interface FeatureDrift {
  feature: string;
  psi: number;
  band: PsiBand;
  bins: PsiBin[];
  /** Only for continuous columns (not listed as discrete, > 10 distinct reference values). */
  ks?: KsResult;
  drifted: boolean;
}

export interface DriftReport {
  /** Same order as the input. */
  features: FeatureDrift[];
  /** Prediction drift, named 'score'; kept apart from `drifted`/`maxPsi`, which are about inputs. */
  score?: FeatureDrift;
  drifted: string[];
  /** Largest feature PSI (0 with no features). */
  maxPsi: number;
  psiThreshold: number;
  rows: { reference: number; current: number };
}

function rowCount(columns: Float64Array[], side: string): number {
  const rows = columns.length > 0 ? columns[0].length : 0;
  for (const c of columns) {
    if (c.length !== rows) throw new RangeError(`driftReport: ${side} columns have different lengths (${rows} vs ${c.length})`);
  }
  return rows;
}

function featureDrift(
  feature: string,
  refValues: ArrayLike<number>,
  curValues: ArrayLike<number>,
  discrete: boolean,
  threshold: number,
  bins: number,
): FeatureDrift {
  const ref = column(refValues);
  const cur = column(curValues);
  const p = psiOf(ref, cur, bins, DEFAULT_EPSILON);
  const out: FeatureDrift = { feature, psi: p.value, band: psiBand(p.value), bins: p.bins, drifted: p.value >= threshold };
  if (!discrete && ref.distinct >= CONTINUOUS_MIN_DISTINCT) out.ks = ksOf(ref, cur);
  return out;
}

/** PSI (and KS where it makes sense) for every feature, plus the model score when both score arrays are given. */
export function driftReport(input: DriftInput): DriftReport {
  const { features, reference, current, psiThreshold } = input;
  if (reference.length !== features.length || current.length !== features.length) {
    throw new RangeError(
      `driftReport: ${features.length} features but ${reference.length} reference and ${current.length} current columns`,
    );
  }
  if (!(psiThreshold > 0 && Number.isFinite(psiThreshold))) {
    throw new RangeError(`driftReport: psiThreshold must be a positive number, got ${psiThreshold}`);
  }
  if ((input.referenceScores === undefined) !== (input.currentScores === undefined)) {
    throw new RangeError('driftReport: give both referenceScores and currentScores, or neither');
  }
  const discrete = new Set(input.discrete ?? []);
  // A misspelt name would silently run KS on a categorical column; fail instead.
  for (const name of discrete) {
    if (!features.includes(name)) throw new RangeError(`driftReport: discrete feature '${name}' is not among the features`);
  }
  const { bins } = checkPsiOptions({ bins: input.bins });
  const rows = { reference: rowCount(reference, 'reference'), current: rowCount(current, 'current') };
  if (features.length > 0 && (rows.reference === 0 || rows.current === 0)) {
    throw new RangeError('driftReport: reference and current need at least one row each');
  }

  const out = features.map((f, i) => featureDrift(f, reference[i], current[i], discrete.has(f), psiThreshold, bins));
  const report: DriftReport = {
    features: out,
    drifted: out.filter((f) => f.drifted).map((f) => f.feature),
    maxPsi: out.reduce((m, f) => Math.max(m, f.psi), 0),
    psiThreshold,
    rows,
  };
  if (input.referenceScores !== undefined && input.currentScores !== undefined) {
    if (input.referenceScores.length === 0 || input.currentScores.length === 0) {
      throw new RangeError('driftReport: score arrays need at least one row each');
    }
    report.score = featureDrift('score', input.referenceScores, input.currentScores, false, psiThreshold, bins);
  }
  return report;
}
