import { applyBins } from '../../ml/gbdt/binning';
import { distinctValues, FEATURE_BYTES, gradientsInKernels, KernelMemory } from '../../ml/gbdt/kernels';
import { prng } from '../../ml/random';

/**
 * The WebAssembly kernels against plain JavaScript doing the same arithmetic
 * in the same order: a model is the same to the bit only if every sum is.
 */
describe('gbdt kernels (WebAssembly) equal plain JavaScript bit for bit', () => {
  const N = 5_000;
  const F = 7;
  const random = prng(7);
  const codes = Uint8Array.from({ length: N * F }, () => Math.floor(random() * 256));
  const columns = new Uint8Array(N * F);
  for (let r = 0; r < N; r++) for (let f = 0; f < F; f++) columns[f * N + r] = codes[r * F + f];
  const grad = Float64Array.from({ length: N }, () => random() - 0.7);
  const hess = Float64Array.from({ length: N }, () => random() * 0.25);
  // A node's rows: a sorted subset, as partitions leave them.
  const rows = Uint32Array.from({ length: N }, (_, i) => i).filter(() => random() < 0.6);

  const m = new KernelMemory();
  const at = {
    codes: m.alloc(N * F),
    columns: m.alloc(N * F),
    order: m.alloc(4 * N),
    scratch: m.alloc(4 * N),
    gh: m.alloc(16 * N),
    hist: m.alloc(F * FEATURE_BYTES),
    small: m.alloc(F * FEATURE_BYTES),
    out: m.alloc(F * FEATURE_BYTES),
    list: m.alloc(4 * F),
    spans: m.alloc(8 * F),
    goesLeft: m.alloc(256),
    found: m.alloc(32),
  };
  m.u8.set(codes, at.codes);
  m.u8.set(columns, at.columns);
  m.u32.set(rows, at.order / 4);
  for (let r = 0; r < N; r++) {
    m.f64[at.gh / 8 + 2 * r] = grad[r];
    m.f64[at.gh / 8 + 2 * r + 1] = hess[r];
  }
  const histogram = (offset: number) => m.f64.slice(offset / 8, offset / 8 + F * 512);

  function reference(from: Uint32Array, features: number[]): Float64Array {
    const hist = new Float64Array(F * 512);
    for (const r of from) {
      for (const f of features) {
        const i = f * 512 + 2 * codes[r * F + f];
        hist[i] += grad[r];
        hist[i + 1] += hess[r];
      }
    }
    return hist;
  }

  it('builds a histogram of every feature, of a range of them, and of some', () => {
    m.kernels.buildAll(at.hist, at.codes, at.order, at.gh, 0, rows.length, F, 0, F);
    expect(histogram(at.hist)).toEqual(reference(rows, [0, 1, 2, 3, 4, 5, 6]));
    m.i32.set([1, 4, 6], at.list / 4);
    m.kernels.buildSome(at.small, at.codes, at.order, at.gh, 10, 900, F, at.list, 3);
    expect(histogram(at.small)).toEqual(reference(rows.subarray(10, 900), [1, 4, 6]));
    m.f64.fill(0, at.small / 8, at.small / 8 + F * 512);
    m.kernels.buildAll(at.small, at.codes, at.order, at.gh, 10, 900, F, 2, 5);
    expect(histogram(at.small)).toEqual(reference(rows.subarray(10, 900), [2, 3, 4]));
  });

  it('subtracts a child from its parent over the spans given', () => {
    m.f64.fill(0, at.small / 8, at.small / 8 + F * 512);
    m.kernels.buildAll(at.small, at.codes, at.order, at.gh, 100, 700, F, 0, F);
    m.i32.set([2 * FEATURE_BYTES, 40 * 16, 5 * FEATURE_BYTES, 256 * 16], at.spans / 4);
    m.kernels.subtract(at.out, at.hist, at.small, at.spans, 2);
    const [parent, small, out] = [histogram(at.hist), histogram(at.small), histogram(at.out)];
    for (const [f, bins] of [[2, 40], [5, 256]]) {
      for (let k = f * 512; k < f * 512 + 2 * bins; k++) expect(out[k]).toBe(parent[k] - small[k]);
    }
  });

  it('partitions rows stably, left first, in place', () => {
    const goesLeft = Uint8Array.from({ length: 256 }, (_, b) => (b % 3 === 0 ? 1 : 0));
    m.u8.set(goesLeft, at.goesLeft);
    const column = columns.subarray(3 * N, 4 * N);
    const [from, to] = [37, rows.length - 5];
    const split = m.kernels.partition(at.order, at.scratch, at.columns + 3 * N, at.goesLeft, from, to);
    const part = rows.subarray(from, to);
    const left = part.filter((r) => goesLeft[column[r]] === 1);
    const right = part.filter((r) => goesLeft[column[r]] === 0);
    expect(split).toBe(left.length);
    expect(Array.from(m.u32.subarray(at.order / 4, at.order / 4 + rows.length))).toEqual([...rows.subarray(0, from), ...left, ...right, ...rows.subarray(to)]);
    m.u32.set(rows, at.order / 4);
  });

  it('clears the spans of a histogram it is given, and nothing else', () => {
    m.f64.fill(1.5, at.out / 8, at.out / 8 + F * 512);
    m.i32.set([2 * FEATURE_BYTES, 40 * 16, 5 * FEATURE_BYTES, 256 * 16], at.spans / 4);
    m.kernels.clear(at.out, at.spans, 2);
    const out = histogram(at.out);
    for (let k = 0; k < F * 512; k++) {
      const cleared = (k >= 2 * 512 && k < 2 * 512 + 80) || (k >= 5 * 512 && k < 6 * 512);
      expect([k, out[k]]).toEqual([k, cleared ? 0 : 1.5]);
    }
  });

  it('finds the best threshold as the JavaScript scan does, ties to the first', () => {
    const hist = histogram(at.hist);
    const f = 4;
    const nBins = 200;
    let g = 0;
    let h = 0;
    for (let b = 0; b <= nBins; b++) {
      g += hist[f * 512 + 2 * b];
      h += hist[f * 512 + 2 * b + 1];
    }
    const [lambda, minChildWeight] = [1, 1];
    const parent = (g * g) / (h + lambda);
    let best = { gain: 0, bin: -1, missingLeft: false, gl: 0, hl: 0 };
    let gl = 0;
    let hl = 0;
    for (let b = 1; b < nBins; b++) {
      gl += hist[f * 512 + 2 * b];
      hl += hist[f * 512 + 2 * b + 1];
      for (const missingLeft of [true, false]) {
        const GL = missingLeft ? gl + hist[f * 512] : gl;
        const HL = missingLeft ? hl + hist[f * 512 + 1] : hl;
        if (HL < minChildWeight || h - HL < minChildWeight) continue;
        const gain = 0.5 * ((GL * GL) / (HL + lambda) + ((g - GL) * (g - GL)) / (h - HL + lambda) - parent);
        if (gain > best.gain) best = { gain, bin: b, missingLeft, gl: GL, hl: HL };
      }
    }
    expect(best.bin).toBeGreaterThan(0);
    expect(m.kernels.bestThreshold(at.hist + f * FEATURE_BYTES, nBins, g, h, parent, lambda, minChildWeight, 0, at.found)).toBe(1);
    const o = at.found / 8;
    expect({ gain: m.f64[o], gl: m.f64[o + 1], hl: m.f64[o + 2], bin: m.i32[2 * o + 6], missingLeft: m.i32[2 * o + 7] === 1 }).toEqual(best);
    expect(m.kernels.bestThreshold(at.hist + f * FEATURE_BYTES, nBins, g, h, parent, lambda, minChildWeight, best.gain, at.found)).toBe(0);
  });

  it("computes the logistic and Poisson gradients as the formulas say, to an ulp of V8's exp", () => {
    const n = 3_000;
    const y = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const raw = Float64Array.from({ length: n }, () => (random() - 0.5) * 20);
    const [grad, hess] = [new Float64Array(n), new Float64Array(n)];
    const close = (a: number, b: number) => Math.abs(a - b) <= 4e-16 * Math.max(1, Math.abs(b));
    gradientsInKernels(y, raw, grad, hess, (k, ...at) => k.logisticGradients(...at, n));
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-raw[i]));
      expect(close(grad[i], p - y[i]) && close(hess[i], Math.max(p * (1 - p), 1e-16))).toBe(true);
    }
    gradientsInKernels(y, raw, grad, hess, (k, ...at) => k.poissonGradients(...at, n, 0.7));
    for (let i = 0; i < n; i++) {
      expect(Math.abs(grad[i] - (Math.exp(raw[i]) - y[i]))).toBeLessThanOrEqual(4e-16 * Math.max(1, Math.exp(raw[i])));
      expect(Math.abs(hess[i] / Math.exp(raw[i] + 0.7) - 1)).toBeLessThanOrEqual(4e-16);
    }
  });

  it('keeps its views right when its memory grows', () => {
    const before = m.f64.buffer;
    const big = m.alloc(64 * 1024 * 1024);
    expect(m.f64.buffer).not.toBe(before);
    m.f64[big / 8] = 1.5;
    expect(m.f64[big / 8]).toBe(1.5);
    expect(m.u8[at.codes + 5]).toBe(codes[5]);
  });

  it('binning finds each feature\'s distinct values and their counts as a float32 sort would: signed zeros, infinities and missing values included', () => {
    const special = [0, -0, 1e-40, -1e-40, Infinity, -Infinity, 3.5, -3.5, NaN];
    const generators = [() => (random() - 0.5) * 2e6, () => Math.round(random() * 10), () => special[Math.floor(random() * special.length)]];
    const rowsN = 20_000;
    const x = Float64Array.from({ length: rowsN * 3 }, (_, i) => generators[i % 3]());
    const seen: number[] = [];
    distinctValues(x, rowsN, 3, (f, n, distinct, counts) => {
      seen.push(f);
      const sorted = Float32Array.from(x.filter((v, i) => i % 3 === f && !Number.isNaN(v))).sort();
      const expected: { value: number; count: number }[] = [];
      sorted.forEach((v, i) => (i > 0 && v === sorted[i - 1] ? expected[expected.length - 1].count++ : expected.push({ value: v, count: 1 })));
      const show = (v: number) => (Object.is(v, -0) ? '-0' : v);
      expect(n).toBe(sorted.length);
      expect(Array.from(distinct, show)).toEqual(expected.map((e) => show(e.value)));
      expect(Array.from(counts)).toEqual(expected.map((e) => e.count));
    });
    expect(seen).toEqual([0, 1, 2]);
  });

  it('bins every value as a float32 search of its edges would: missing 0, above every edge the last bin', () => {
    const rowsN = 3_000;
    const edges = [Float32Array.from([-1, 0, 0.1, 2.5, Infinity]), Float32Array.from([1, 2, 3]), Float32Array.from([0.30000001192092896])];
    const x = Float64Array.from({ length: rowsN * 3 }, (_, i) => (i % 97 === 0 ? NaN : i % 3 === 1 ? Math.floor(random() * 6) : i % 3 === 2 ? 0.3 : (random() - 0.5) * 8));
    const bins = applyBins({ ids: [], x, y: new Float64Array(rowsN), rows: rowsN, features: 3 }, edges);
    for (let r = 0; r < rowsN; r++) {
      for (let f = 0; f < 3; f++) {
        const v = x[r * 3 + f];
        const first = edges[f].findIndex((e) => Math.fround(v) <= e);
        const expected = Number.isNaN(v) ? 0 : (first < 0 ? edges[f].length - 1 : first) + 1;
        expect([r, f, bins.codes[r * 3 + f], bins.columns[f * rowsN + r]]).toEqual([r, f, expected, expected]);
      }
    }
  });
});
