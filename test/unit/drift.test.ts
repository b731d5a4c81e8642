import { driftReport, kolmogorovSurvival, ks, psi, psiBand, PSI_BANDS } from '../../ml/drift';
import { prng } from '../../ml/random';

/** Box–Muller on the seeded generator, so every run sees the same samples. */
function normals(n: number, mean: number, seed: number): Float64Array {
  const rand = prng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rand(); // (0, 1], keeps log finite
    out[i] = mean + Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }
  return out;
}

function binary(n: number, onesShare: number, seed: number): Float64Array {
  const rand = prng(seed);
  return Float64Array.from({ length: n }, () => (rand() < onesShare ? 1 : 0));
}

describe('population stability index', () => {
  test('identical samples give PSI 0 and a KS p-value of 1', () => {
    const x = normals(30_000, 0, 1);
    const p = psi(x, x);
    expect(p.value).toBe(0);
    expect(p.bins).toHaveLength(10);
    for (const b of p.bins) expect(b.reference).toBeCloseTo(0.1, 12);
    const k = ks(x, x);
    expect(k).toEqual({ d: 0, pValue: 1, n: 30_000, m: 30_000 });
  });

  test('two independent samples of the same distribution look stable', () => {
    const p = psi(normals(30_000, 0, 1), normals(5_000, 0, 2));
    expect(p.value).toBeGreaterThan(0);
    expect(p.value).toBeLessThan(0.02);
    expect(psiBand(p.value)).toBe('stable');
    expect(ks(normals(30_000, 0, 1), normals(5_000, 0, 2)).pValue).toBeGreaterThan(0.05);
  });

  test('hand-checked example: quantile edges and the PSI sum', () => {
    const reference = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    const current = [1, 1, 1, 1, 1, 3, 3, 5, 7, 9];
    const p = psi(reference, current, { bins: 5 });
    // Cuts at the 20/40/60/80% lower quantiles of 1..10: 2, 4, 6, 8 (the max, 10, is never a cut).
    expect(p.edges).toEqual([2, 4, 6, 8]);
    expect(p.bins.map((b) => [b.lower, b.upper, b.reference, b.current])).toEqual([
      [null, 2, 0.2, 0.5],
      [2, 4, 0.2, 0.2],
      [4, 6, 0.2, 0.1],
      [6, 8, 0.2, 0.1],
      [8, null, 0.2, 0.1],
    ]);
    // (0.5-0.2)·ln(0.5/0.2) + 0 + 3·(0.1-0.2)·ln(0.1/0.2) = 0.3·ln 2.5 + 0.3·ln 2 = 0.274887 + 0.207944
    expect(p.value).toBeCloseTo(0.482831, 6);
    expect(p.bins.reduce((s, b) => s + b.contribution, 0)).toBeCloseTo(p.value, 12);
  });

  test('a shifted normal is major drift and KS rejects equality', () => {
    const reference = normals(30_000, 0, 3);
    const current = normals(30_000, 0.75, 4);
    const started = performance.now();
    const p = psi(reference, current);
    const k = ks(reference, current);
    const elapsed = performance.now() - started;
    expect(p.value).toBeGreaterThan(PSI_BANDS.major);
    expect(psiBand(p.value)).toBe('major');
    // Shifting by 0.75σ moves the CDFs apart by up to 2Φ(0.375) − 1 ≈ 0.29.
    expect(k.d).toBeGreaterThan(0.25);
    expect(k.d).toBeLessThan(0.33);
    expect(k.pValue).toBeLessThan(0.001);
    expect(elapsed).toBeLessThan(1_000);
  });

  test('a 0/1 feature gets two bins, a rare class included', () => {
    const p = psi(binary(1_000, 0.3, 5), binary(1_000, 0.5, 6));
    expect(p.edges).toEqual([0]);
    expect(p.bins.map((b) => [b.lower, b.upper])).toEqual([[null, 0], [0, null]]);
    // Exact 70/30 vs 50/50: 0.2·ln(0.7/0.5) + 0.2·ln(0.5/0.3)
    const exact = psi([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(exact.value).toBeCloseTo(0.1694596, 6);
    expect(psiBand(exact.value)).toBe('moderate');
    // 5% zeros sit below the 10% quantile; they must still get their own bin.
    const rare = psi(binary(2_000, 0.95, 7), binary(2_000, 0.6, 8));
    expect(rare.bins).toHaveLength(2);
    expect(rare.bins[0].reference).toBeGreaterThan(0.03);
    expect(rare.bins[0].reference).toBeLessThan(0.07);
    expect(rare.value).toBeGreaterThan(PSI_BANDS.major);
  });

  test('NaN rows form a missing bin, and an empty bin costs epsilon not infinity', () => {
    const p = psi([1, 2, 3, 4], [1, 2, Number.NaN, Number.NaN], { bins: 2 });
    expect(p.bins).toEqual([
      { lower: null, upper: 2, missing: false, reference: 0.5, current: 0.5, contribution: 0 },
      expect.objectContaining({ lower: 2, upper: null, missing: false, reference: 0.5, current: 0 }),
      expect.objectContaining({ lower: null, upper: null, missing: true, reference: 0, current: 0.5 }),
    ]);
    // Both empty shares floored at 1e-4: 2·(0.5 − 1e-4)·ln(0.5 / 1e-4)
    expect(p.value).toBeCloseTo(8.51549, 4);
    expect(Number.isFinite(psi([1, 2, 3], [Number.NaN]).value)).toBe(true);
    // The same missing rate on both sides is no drift.
    expect(psi([1, 2, Number.NaN, 4], [4, Number.NaN, 2, 1]).value).toBe(0);
    expect(() => psi([], [1])).toThrow(RangeError);
    expect(() => psi([1], [1], { bins: 1 })).toThrow(RangeError);
  });
});

describe('Kolmogorov–Smirnov', () => {
  test('the Kolmogorov tail matches the classic critical values on both series', () => {
    expect(kolmogorovSurvival(1.0727)).toBeCloseTo(0.2, 3);
    expect(kolmogorovSurvival(1.2238)).toBeCloseTo(0.1, 3);
    expect(kolmogorovSurvival(1.3581)).toBeCloseTo(0.05, 3);
    expect(kolmogorovSurvival(1.6276)).toBeCloseTo(0.01, 4);
    expect(kolmogorovSurvival(0.5)).toBeCloseTo(0.9639, 4);
    // The two series meet at λ = 1.18 without a jump.
    expect(kolmogorovSurvival(1.1799999)).toBeCloseTo(kolmogorovSurvival(1.18), 6);
    expect(kolmogorovSurvival(0)).toBe(1);
  });

  test('D on hand-checked samples, ties stepped over together, NaN ignored', () => {
    // CDFs at 1,2,3,4,5,6: ref .25 .5 .75 1 1 1, cur 0 0 .25 .5 .75 1 → D = 0.5
    expect(ks([1, 2, 3, 4], [3, 4, 5, 6]).d).toBe(0.5);
    // At 2 both CDFs jump (ref to .75, cur to 1): the gap is .25, never the 1.0 a naive merge would see.
    expect(ks([1, 2, 2, 3], [2, 2, 2, 2]).d).toBe(0.25);
    expect(ks([1, 2, 3, Number.NaN], [3, 2, 1])).toEqual({ d: 0, pValue: 1, n: 3, m: 3 });
    const none = ks([1, 2], [Number.NaN]);
    expect(none.m).toBe(0);
    expect(none.pValue).toBeNaN();
    // Disjoint samples of 50 each: D = 1, p far below 0.001.
    const lo = Array.from({ length: 50 }, (_, i) => i);
    const hi = lo.map((v) => v + 100);
    expect(ks(lo, hi).d).toBe(1);
    expect(ks(lo, hi).pValue).toBeLessThan(1e-6);
  });
});

describe('drift report', () => {
  const n = 30_000;
  const m = 5_000;
  const features = ['age', 'income', 'member', 'tier'];
  const tier = (rows: number, seed: number): Float64Array => {
    const rand = prng(seed);
    return Float64Array.from({ length: rows }, () => Math.floor(rand() * 4));
  };
  const reference = [normals(n, 40, 11), normals(n, 0, 12), binary(n, 0.3, 13), tier(n, 14)];
  const current = [normals(m, 40, 21), normals(m, 1, 22), binary(m, 0.3, 23), tier(m, 24)];

  test('flags exactly the shifted feature, keeps input order, KS only on continuous ones', () => {
    const r = driftReport({
      features, reference, current, psiThreshold: 0.2, discrete: new Set(['member']),
      referenceScores: normals(n, 0, 31), currentScores: normals(m, 0, 32),
    });
    expect(r.features.map((f) => f.feature)).toEqual(features);
    expect(r.drifted).toEqual(['income']);
    expect(r.features.map((f) => f.drifted)).toEqual([false, true, false, false]);
    expect(r.maxPsi).toBe(r.features[1].psi);
    expect(r.features[1].band).toBe('major');
    expect(r.features[1].ks!.pValue).toBeLessThan(0.001);
    expect(r.features[0].ks!.pValue).toBeGreaterThan(0.001);
    expect(r.features[2].ks).toBeUndefined(); // listed as discrete
    expect(r.features[3].ks).toBeUndefined(); // only four distinct values
    expect(r.features[3].bins).toHaveLength(4);
    expect(r.rows).toEqual({ reference: n, current: m });
    expect(r.score).toMatchObject({ feature: 'score', drifted: false, band: 'stable' });
    expect(r.score!.ks).toBeDefined();
    // Same input, same report.
    expect(driftReport({ features, reference, current, psiThreshold: 0.2, discrete: ['member'] })).toEqual({
      ...r,
      score: undefined,
    });
  });

  test('rejects inputs that would give a silently wrong report', () => {
    const base = { features, reference, current, psiThreshold: 0.2 };
    expect(() => driftReport({ ...base, current: current.slice(1) })).toThrow(/columns/);
    expect(() => driftReport({ ...base, discrete: ['membr'] })).toThrow(/membr/);
    expect(() => driftReport({ ...base, referenceScores: [0.1] })).toThrow(/both/);
    expect(() => driftReport({ ...base, psiThreshold: 0 })).toThrow(/psiThreshold/);
    expect(() => driftReport({ ...base, current: [current[0], current[1].subarray(1), current[2], current[3]] })).toThrow(/lengths/);
  });
});
