/**
 * P(X ≥ k) for X ~ Binomial(n, p): how likely k or more of n requests land
 * beyond a line that each crosses with probability p. Summed in log space from
 * k upward, so large n (a day of traffic) neither overflows nor underflows.
 * At or below the mean the tail is about one half or more; 1 stands for it,
 * since callers only ask whether a tail is small.
 */
export function binomialTail(n: number, k: number, p: number): number {
  if (k <= 0 || p >= 1) return 1;
  if (k > n || p <= 0) return 0;
  if (k <= n * p) return 1;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const lnC = lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);
  let term = Math.exp(lnC + k * lp + (n - k) * lq);
  let sum = 0;
  // Above the mean each term is a fixed fraction of the one before it, falling fast.
  for (let i = k; i <= n && term > sum * 1e-16; i++) {
    sum += term;
    term *= ((n - i) / (i + 1)) * (p / (1 - p));
  }
  return Math.min(1, sum);
}

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Γ(x) for x ≥ 1 (Lanczos, g = 7): about 15 significant digits. */
function lnGamma(x: number): number {
  const z = x - 1;
  let a = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}
