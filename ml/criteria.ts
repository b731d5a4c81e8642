/**
 * Every metric a policy can put a limit on, and which direction is better.
 * Pure: the workflow's policy comparison imports it.
 */
export const CRITERIA = {
  // accuracy
  auc: { better: 'higher', group: 'accuracy', label: 'AUC' },
  logLoss: { better: 'lower', group: 'accuracy', label: 'log loss' },
  accuracy: { better: 'higher', group: 'accuracy', label: 'accuracy' },
  precision: { better: 'higher', group: 'accuracy', label: 'precision' },
  recall: { better: 'higher', group: 'accuracy', label: 'recall' },
  f1: { better: 'higher', group: 'accuracy', label: 'F1' },
  brier: { better: 'lower', group: 'accuracy', label: 'Brier score' },
  ece: { better: 'lower', group: 'accuracy', label: 'expected calibration error' },
  // performance
  latencyP50Ms: { better: 'lower', group: 'performance', label: 'latency p50 (ms, batch 1)' },
  latencyP99Ms: { better: 'lower', group: 'performance', label: 'latency p99 (ms, batch 1)' },
  throughputRowsPerS: { better: 'higher', group: 'performance', label: 'throughput (rows/s, batch 1000)' },
  // bias (worst over the protected attributes)
  demographicParityDiff: { better: 'lower', group: 'bias', label: 'demographic parity difference' },
  equalOpportunityDiff: { better: 'lower', group: 'bias', label: 'equal opportunity difference' },
  disparateImpactRatio: { better: 'higher', group: 'bias', label: 'disparate impact ratio' },
  // resource efficiency
  modelBytes: { better: 'lower', group: 'resources', label: 'model size (bytes)' },
  trainSeconds: { better: 'lower', group: 'resources', label: 'training wall time (s)' },
  trainCpuSeconds: { better: 'lower', group: 'resources', label: 'training CPU time (s)' },
  trainPeakRssMb: { better: 'lower', group: 'resources', label: 'training peak RSS (MB)' },
  inferenceCpuMsPer1k: { better: 'lower', group: 'resources', label: 'inference CPU per 1,000 rows (ms)' },
} as const;

export type CriterionName = keyof typeof CRITERIA;
export const CRITERION_NAMES = Object.keys(CRITERIA) as [CriterionName, ...CriterionName[]];
