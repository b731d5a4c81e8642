/**
 * The factory's three pools. Workflow code imports this too, so it must stay free
 * of Node APIs.
 */
export const TASK_QUEUES = {
  /** Training: CPU- or GPU-heavy, long, heartbeated. */
  gpu: 'factory-gpu',
  /** Evaluation and data validation/snapshotting. */
  cpu: 'factory-cpu',
  /** Workflows, registry writes, approvals and promotion. */
  control: 'factory-control',
} as const;

export type WorkerPool = keyof typeof TASK_QUEUES;
