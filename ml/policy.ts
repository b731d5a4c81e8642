import type { MetricName, Policy } from '../specs/model-spec';

/**
 * Comparison of a candidate with the champion under the model's policy.
 * Pure and deterministic: the pipeline workflow runs it directly.
 */
export type Metrics = Record<MetricName, number>;

export interface Criterion {
  name: string;
  metric: MetricName;
  kind: 'floor' | 'non-inferiority';
  value: number;
  limit: number;
  passed: boolean;
  reason: string;
}

export interface Verdict {
  passed: boolean;
  criteria: Criterion[];
  /** Plain-language reasons for each failure, empty when passed. */
  failures: string[];
}

/** Direction of "better" for each metric. */
const HIGHER_IS_BETTER: Record<MetricName, boolean> = { auc: true, accuracy: true, logLoss: false };
const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : String(v));

export function comparePolicy(policy: Policy, candidate: Metrics, champion?: Metrics): Verdict {
  const criteria: Criterion[] = [];
  for (const [metric, limit] of Object.entries(policy.floors) as [MetricName, number | undefined][]) {
    if (limit === undefined) continue;
    const value = candidate[metric];
    const higher = HIGHER_IS_BETTER[metric];
    const passed = Number.isFinite(value) && (higher ? value >= limit : value <= limit);
    criteria.push({
      name: `${metric} ${higher ? '≥' : '≤'} ${limit}`,
      metric,
      kind: 'floor',
      value,
      limit,
      passed,
      reason: passed
        ? `${metric} ${fmt(value)} meets the floor ${limit}`
        : `${metric} ${fmt(value)} is ${higher ? 'below' : 'above'} the required ${higher ? 'minimum' : 'maximum'} ${limit}`,
    });
  }
  if (champion) {
    for (const [metric, margin] of Object.entries(policy.margins) as [MetricName, number | undefined][]) {
      if (margin === undefined) continue;
      const value = candidate[metric];
      const higher = HIGHER_IS_BETTER[metric];
      const limit = higher ? champion[metric] - margin : champion[metric] + margin;
      const passed = Number.isFinite(value) && (higher ? value >= limit : value <= limit);
      criteria.push({
        name: `${metric} vs champion (margin ${margin})`,
        metric,
        kind: 'non-inferiority',
        value,
        limit,
        passed,
        reason: passed
          ? `${metric} ${fmt(value)} is within ${margin} of the champion's ${fmt(champion[metric])}`
          : `${metric} ${fmt(value)} is worse than the champion's ${fmt(champion[metric])} by more than the allowed ${margin}`,
      });
    }
  }
  const failures = criteria.filter((c) => !c.passed).map((c) => c.reason);
  return { passed: failures.length === 0, criteria, failures };
}
