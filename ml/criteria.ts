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
  macroF1: { better: 'higher', group: 'accuracy', label: 'macro-F1' },
  // accuracy of a regression model (in the label's units, but MAPE and R²)
  rmse: { better: 'lower', group: 'accuracy', label: 'RMSE' },
  mae: { better: 'lower', group: 'accuracy', label: 'MAE' },
  mape: { better: 'lower', group: 'accuracy', label: 'MAPE' },
  r2: { better: 'higher', group: 'accuracy', label: 'R²' },
  absMeanResidual: { better: 'lower', group: 'accuracy', label: '|mean residual|' },
  // performance
  latencyP50Ms: { better: 'lower', group: 'performance', label: 'latency p50 (ms, batch 1)' },
  latencyP99Ms: { better: 'lower', group: 'performance', label: 'latency p99 (ms, batch 1)' },
  throughputRowsPerS: { better: 'higher', group: 'performance', label: 'throughput (rows/s, batch 1000)' },
  // bias (worst over the protected attributes)
  demographicParityDiff: { better: 'lower', group: 'bias', label: 'demographic parity difference' },
  equalOpportunityDiff: { better: 'lower', group: 'bias', label: 'equal opportunity difference' },
  disparateImpactRatio: { better: 'higher', group: 'bias', label: 'disparate impact ratio' },
  maeGap: { better: 'lower', group: 'bias', label: 'MAE gap between groups' },
  residualGap: { better: 'lower', group: 'bias', label: 'mean residual gap between groups' },
  accuracyGap: { better: 'lower', group: 'bias', label: 'accuracy gap between groups' },
  recallGap: { better: 'lower', group: 'bias', label: 'macro recall gap between groups' },
  // resource efficiency
  modelBytes: { better: 'lower', group: 'resources', label: 'model size (bytes)' },
  trainSeconds: { better: 'lower', group: 'resources', label: 'training wall time (s)' },
  trainCpuSeconds: { better: 'lower', group: 'resources', label: 'training CPU time (s)' },
  trainPeakRssMb: { better: 'lower', group: 'resources', label: 'training peak RSS (MB)' },
  inferenceCpuMsPer1k: { better: 'lower', group: 'resources', label: 'inference CPU per 1,000 rows (ms)' },
} as const;

export type CriterionName = keyof typeof CRITERIA;

/** The metrics each task measures: a policy may only put limits on these. */
export const TASK_METRICS: Record<'binary-classification' | 'multiclass-classification' | 'regression', readonly CriterionName[]> = {
  'binary-classification': ['auc', 'logLoss', 'accuracy', 'precision', 'recall', 'f1', 'brier', 'ece', 'demographicParityDiff', 'equalOpportunityDiff', 'disparateImpactRatio'],
  'multiclass-classification': ['logLoss', 'accuracy', 'macroF1', 'accuracyGap', 'recallGap'],
  regression: ['rmse', 'mae', 'mape', 'r2', 'absMeanResidual', 'maeGap', 'residualGap'],
};
const COMMON = ['latencyP50Ms', 'latencyP99Ms', 'throughputRowsPerS', 'modelBytes', 'trainSeconds', 'trainCpuSeconds', 'trainPeakRssMb', 'inferenceCpuMsPer1k'] as const;

export function measuredFor(task: keyof typeof TASK_METRICS, metric: CriterionName): boolean {
  return TASK_METRICS[task].includes(metric) || (COMMON as readonly string[]).includes(metric);
}
export const CRITERION_NAMES = Object.keys(CRITERIA) as [CriterionName, ...CriterionName[]];
