import type { Policy } from '../specs/model-spec';
import { CRITERIA, type CriterionName } from './criteria';

/**
 * Comparison of a candidate with the champion under the model's policy.
 * Pure and deterministic: the pipeline workflow runs it directly.
 */
export type Metrics = Partial<Record<CriterionName, number>>;

export interface Criterion {
  name: string;
  metric: CriterionName;
  group: string;
  kind: 'floor' | 'non-inferiority' | 'infra';
  hard: boolean;
  value: number;
  limit: number;
  passed: boolean;
  reason: string;
}

export interface Verdict {
  passed: boolean;
  criteria: Criterion[];
  /** Plain-language reasons for each failed hard criterion; empty when passed. */
  failures: string[];
  /** Failed advisory criteria: shown to the approver, not blocking. */
  warnings: string[];
}

const fmt = (v: number) => (!Number.isFinite(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4));

export function comparePolicy(policy: Policy, candidate: Metrics, champion?: Metrics, infra?: { passed: boolean; reason: string }): Verdict {
  const criteria: Criterion[] = [];
  const hard = (m: CriterionName) => !policy.advisory.includes(m);
  if (infra) {
    criteria.push({ name: 'infra validation', metric: 'modelBytes', group: 'infra', kind: 'infra', hard: true, value: infra.passed ? 1 : 0, limit: 1, passed: infra.passed, reason: infra.reason });
  }
  for (const [metric, limit] of Object.entries(policy.floors) as [CriterionName, number][]) {
    const { better, group, label } = CRITERIA[metric];
    const value = candidate[metric] ?? Number.NaN;
    const higher = better === 'higher';
    const passed = Number.isFinite(value) && (higher ? value >= limit : value <= limit);
    criteria.push({
      name: `${label} ${higher ? '≥' : '≤'} ${limit}`,
      metric, group, kind: 'floor', hard: hard(metric), value, limit, passed,
      reason: !Number.isFinite(value)
        ? `${label} could not be measured`
        : passed
          ? `${label} ${fmt(value)} meets the ${higher ? 'minimum' : 'maximum'} ${limit}`
          : `${label} ${fmt(value)} is ${higher ? 'below the required minimum' : 'above the allowed maximum'} ${limit}`,
    });
  }
  if (champion) {
    for (const [metric, margin] of Object.entries(policy.margins) as [CriterionName, number][]) {
      const { better, group, label } = CRITERIA[metric];
      const value = candidate[metric] ?? Number.NaN;
      const base = champion[metric] ?? Number.NaN;
      const higher = better === 'higher';
      const limit = higher ? base - margin : base + margin;
      const passed = Number.isFinite(value) && (!Number.isFinite(base) || (higher ? value >= limit : value <= limit));
      criteria.push({
        name: `${label} vs champion (margin ${margin})`,
        metric, group, kind: 'non-inferiority', hard: hard(metric), value, limit, passed,
        reason: passed
          ? `${label} ${fmt(value)} is within ${margin} of the champion's ${fmt(base)}`
          : `${label} ${fmt(value)} is worse than the champion's ${fmt(base)} by more than the allowed ${margin}`,
      });
    }
  }
  const failures = criteria.filter((c) => !c.passed && c.hard).map((c) => c.reason);
  const warnings = criteria.filter((c) => !c.passed && !c.hard).map((c) => c.reason);
  return { passed: failures.length === 0, criteria, failures, warnings };
}
