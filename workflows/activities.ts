import { proxyActivities } from '@temporalio/workflow';
import type { ApprovalActivities } from '../activities/approvals';
import type { ChatActivities } from '../activities/chat';
import type { DataActivities } from '../activities/data';
import type { EvaluationActivities } from '../activities/evaluation';
import type { RegistryActivities } from '../activities/registry';
import type { DriftActivities } from '../activities/drift';
import type { EdgeActivities } from '../activities/edge';
import type { EnergyActivities } from '../activities/energy';
import type { RolloutActivities } from '../activities/rollout';
import type { TriggerActivities } from '../activities/triggers';
import type { TrainingActivities } from '../activities/training';
import { TASK_QUEUES } from '../config/task-queues';
import { INTEGRITY_ERROR } from '../contracts/errors';

/** Each pool's activity options, in one place. */

/** Control-pool activities that only touch the registry: quick, and retried until the database answers. */
const controlDb = { taskQueue: TASK_QUEUES.control, startToCloseTimeout: '1m', retry: { maximumInterval: '30s' } } as const;
export const training = proxyActivities<TrainingActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '4h',
  // The training activity heartbeats every few seconds; half a minute of silence means its worker is gone.
  heartbeatTimeout: '30s',
  // A lost worker or an S3 outage at the upload: a few minutes of backoff, each retry resuming from the checkpoint.
  retry: { maximumAttempts: 5, initialInterval: '10s', maximumInterval: '2m', nonRetryableErrorTypes: [INTEGRITY_ERROR] },
});

export const data = proxyActivities<DataActivities>({
  taskQueue: TASK_QUEUES.cpu,
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  // Faults in the data are answers (a quarantine), not errors; what fails is S3 or the database, so ride out an outage of minutes.
  retry: { maximumAttempts: 20, maximumInterval: '1m', nonRetryableErrorTypes: [INTEGRITY_ERROR] },
});

export const evaluation = proxyActivities<EvaluationActivities>({
  taskQueue: TASK_QUEUES.cpu,
  startToCloseTimeout: '1h',
  // The evaluation heartbeats every few seconds; half a minute of silence means its worker is gone.
  heartbeatTimeout: '30s',
  // A corrupt artifact fails at once (non-retryable); a lost worker or an S3 or database outage is retried for minutes.
  retry: { maximumAttempts: 10, initialInterval: '5s', maximumInterval: '1m', nonRetryableErrorTypes: [INTEGRITY_ERROR] },
});

export const registry = proxyActivities<RegistryActivities>({
  ...controlDb,
});

export const approvals = proxyActivities<ApprovalActivities>({
  ...controlDb,
});

/** Slack and the webhook are best effort: a few tries with backoff (the Slack client also honours Retry-After), then the gate goes on without. */
export const chat = proxyActivities<ChatActivities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '2m',
  retry: { maximumAttempts: 4, initialInterval: '2s', backoffCoefficient: 3 },
});

export const rollout = proxyActivities<RolloutActivities>({
  ...controlDb,
});

/** Waiting for replicas takes as long as a model load; the heartbeat shows who is still behind. */
export const replicas = proxyActivities<Pick<RolloutActivities, 'awaitReplicas'>>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: { maximumInterval: '30s' },
});

export const triggers = proxyActivities<TriggerActivities>({
  ...controlDb,
});

export const edge = proxyActivities<EdgeActivities>({
  ...controlDb,
});

export const energy = proxyActivities<EnergyActivities>({
  taskQueue: TASK_QUEUES.control,
  // The feed's own timeout is seconds; this only bounds a stuck database.
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 3 },
});

export const drift = proxyActivities<DriftActivities>({
  taskQueue: TASK_QUEUES.cpu,
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { maximumAttempts: 3 },
});
