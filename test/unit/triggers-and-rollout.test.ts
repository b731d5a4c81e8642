import { binomialTail } from '../../ml/binomial';
import { judgeRollout, type LiveWindow } from '../../ml/rollout-guard';
import { parseDeadline } from '../../scripts/cli/train';
import { parseModelSpec, rolloutGuardSchema } from '../../specs/model-spec';
import { toySpec } from './toy-spec';

const base = { ...toySpec, features: [{ name: 'amount', type: 'number' }] };

describe('trigger and rollout specs', () => {
  test('defaults: no automatic triggers, a cautious rollout', () => {
    const spec = parseModelSpec(base);
    expect(spec.triggers).toEqual({});
    expect(spec.rollout).toMatchObject({ shadow: '2m', canaryPercent: 10, bake: '10m', minRequests: 500, guard: { maxErrorRate: 0.01, maxP99Ratio: 2, maxScorePsi: 0.25 } });
  });

  test.each([
    [{ triggers: { rows: 0 } }, 'spec.triggers.rows: a row threshold must be at least 1'],
    [{ triggers: { schedule: { cron: '0 3 * *' } } }, 'spec.triggers.schedule.cron: must be five cron fields'],
    [{ triggers: { schedule: { every: '1h', cron: '0 3 * * *' } } }, 'give exactly one of "every" or "cron"'],
    [{ triggers: { schedule: { every: 'daily' } } }, 'spec.triggers.schedule.every: must be a duration'],
    [{ triggers: { schedule: { every: '1h', timezone: 'Mars/Olympus' } } }, 'spec.triggers.schedule.timezone: not a known IANA time zone'],
    [{ triggers: { drift: { psiThreshold: 0 } } }, 'spec.triggers.drift.psiThreshold'],
    [{ rollout: { canaryPercent: 100 } }, 'spec.rollout.canaryPercent'],
    [{ rollout: { minRequests: 10 } }, 'spec.rollout.minRequests: at least 50'],
  ])('%j is refused with a message naming the field', (change, message) => {
    expect(() => parseModelSpec({ ...base, ...change })).toThrow(message);
  });

  test('deadlines: a duration from now or a future time; anything else is refused', () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    expect(parseDeadline('8h', now)).toBe('2026-11-29T18:00:00.000Z');
    expect(parseDeadline('2026-11-30T06:00:00Z', now)).toBe('2026-11-30T06:00:00.000Z');
    expect(() => parseDeadline('tomorrow', now)).toThrow('neither a duration');
    expect(() => parseDeadline('2026-11-28T06:00:00Z', now)).toThrow('in the past');
  });
});

describe('the rollout guard', () => {
  test('the binomial tail matches the exact sum, and stays finite for a day of traffic', () => {
    const exact = (n: number, k: number, p: number) => {
      let sum = 0;
      for (let i = k; i <= n; i++) {
        let c = 1;
        for (let j = 0; j < i; j++) c = (c * (n - j)) / (j + 1);
        sum += c * p ** i * (1 - p) ** (n - i);
      }
      return sum;
    };
    for (const [n, k, p] of [[100, 3, 0.01], [300, 10, 0.01], [50, 20, 0.1], [1000, 30, 0.01]]) expect(binomialTail(n, k, p)).toBeCloseTo(exact(n, k, p), 10);
    expect(binomialTail(1_000_000, 11_000, 0.01)).toBeGreaterThan(0);
    expect(binomialTail(1_000_000, 11_000, 0.01)).toBeLessThan(1e-20);
    expect(binomialTail(100, 1, 0.01)).toBe(1);
    expect(binomialTail(100, 0, 0.5)).toBe(1);
  });

  test('a slow p99 that is two or three requests, or that the champion shares, is chance; many slow requests are not', () => {
    // A stall of the host: both versions' slowest few requests waited behind it.
    const stall = { candidate: w(2, { requests: 200, p99Ms: 10.3, slow: 3 }), baseline: w(1, { requests: 470, p99Ms: 4.25, slow: 1 }), scorePsi: 0 };
    expect(judgeRollout(guard, 100, stall).healthy).toBe(true);
    const shared = { candidate: w(2, { requests: 300, p99Ms: 40, slow: 12 }), baseline: w(1, { requests: 700, slow: 25 }), scorePsi: 0 };
    expect(judgeRollout(guard, 100, shared).healthy).toBe(true);
    const slower = { candidate: w(2, { requests: 200, p99Ms: 40, slow: 12 }), baseline: w(1, { requests: 470, slow: 1 }), scorePsi: 0 };
    expect(judgeRollout(guard, 100, slower).failures[0]).toMatch(/^p99 latency 40\.00 ms exceeds 9\.00 ms \(v1: 4\.00 ms\): 12 of 200 requests slower/);
  });

  const guard = rolloutGuardSchema.parse({});
  const w = (version: number, over: Partial<LiveWindow> = {}): LiveWindow => ({ version, requests: 1000, errors: 0, errorRate: 0, p50Ms: 1, p99Ms: 4, meanScore: 0.22, ...over });

  test('a candidate like its champion passes once both have enough traffic', () => {
    expect(judgeRollout(guard, 500, { candidate: w(2), baseline: w(1), scorePsi: 0.03 })).toEqual({ healthy: true, enough: true, failures: [] });
    expect(judgeRollout(guard, 500, { candidate: w(2, { requests: 100 }), baseline: w(1), scorePsi: null })).toEqual({ healthy: true, enough: false, failures: [] });
  });

  test('errors fail it at once, even before there is enough traffic to judge the rest', () => {
    const v = judgeRollout(guard, 500, { candidate: w(2, { requests: 40, errors: 4, errorRate: 0.1 }), baseline: w(1), scorePsi: null });
    expect(v.healthy).toBe(false);
    expect(v.failures).toEqual(["error rate 10.00% (4/40) exceeds 1.00% and v1's 0.00%"]);
  });

  test('latency beyond both the ratio and the slack, and a shifted score distribution, fail it', () => {
    expect(judgeRollout(guard, 500, { candidate: w(2, { p99Ms: 8.5 }), baseline: w(1), scorePsi: 0 }).healthy).toBe(true);
    expect(judgeRollout(guard, 500, { candidate: w(2, { p99Ms: 9.5 }), baseline: w(1), scorePsi: 0 }).failures).toEqual(['p99 latency 9.50 ms exceeds 9.00 ms (v1: 4.00 ms)']);
    expect(judgeRollout(guard, 500, { candidate: w(2, { p99Ms: 30, slow: 60 }), baseline: w(1, { slow: 2 }), scorePsi: 0 }).failures).toEqual([
      'p99 latency 30.00 ms exceeds 9.00 ms (v1: 4.00 ms): 60 of 1000 requests slower than that (6.00%; v1 0.20%)',
    ]);
    expect(judgeRollout(guard, 500, { candidate: w(2, { meanScore: 0.7 }), baseline: w(1), scorePsi: 2.1 }).failures).toEqual([
      'score distribution shifted: PSI 2.100 > 0.25 (mean score 0.700 vs 0.220)',
    ]);
  });
});
