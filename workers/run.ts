import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { createApprovalActivities } from '../activities/approvals';
import { createChatActivities } from '../activities/chat';
import { createDataActivities } from '../activities/data';
import { configuredPublicKeys } from '../approvals/signing-key';
import { slackClient } from '../approvals/slack-client';
import type { ActivityDeps } from '../activities/deps';
import { createEvaluationActivities } from '../activities/evaluation';
import { createRegistryActivities } from '../activities/registry';
import { createRolloutActivities } from '../activities/rollout';
import { createTriggerActivities } from '../activities/triggers';
import { createEnergyActivities } from '../activities/energy';
import { createDriftActivities } from '../activities/drift';
import { createEdgeActivities } from '../activities/edge';
import { createTrainingActivities } from '../activities/training';
import { connections, dataPaths, loadEnv, workflowUrl, type FactoryEnv } from '../config/env';
import { logger } from '../config/logger';
import { serveMetrics } from '../config/metrics';
import { TASK_QUEUES, type WorkerPool } from '../config/task-queues';
import { migrate } from '../db/migrate';
import { connectClient, dataConverter, temporalTls } from '../config/temporal-connection';
import { adoptIfFirst, workerVersion, type WorkerVersion } from './deployment';
import { GpuSlots, hostGpus } from './gpus';
import { createDbPool } from '../db/pool';
import { ArtifactStore } from '../storage/artifacts';

export interface PoolWorker {
  worker: Worker;
  version: WorkerVersion;
  /** The GPUs a training worker hands out. */
  gpus: string[];
  /** Makes this worker's build current where its deployment has none yet (workers/deployment.ts). */
  adoptIfFirst(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What each pool runs, and how much of it at once, in one place: the gpu pool
 * trains, the cpu pool validates and evaluates, the control pool runs workflows
 * and the registry.
 */
function poolOptions(pool: WorkerPool, deps: ActivityDeps & { client?: Client; gpus: GpuSlots }): Partial<WorkerOptions> {
  switch (pool) {
    case 'gpu':
      // One training per GPU, or one at a time on a host without: each takes what it is given. Heartbeats are few, so
      // they are sent within seconds rather than the default throttle: a checkpoint is durable soon after it is stored.
      return {
        activities: createTrainingActivities(deps),
        maxConcurrentActivityTaskExecutions: deps.gpus.concurrency,
        maxHeartbeatThrottleInterval: '5s',
        defaultHeartbeatThrottleInterval: '5s',
      };
    case 'cpu':
      return { activities: { ...createDataActivities(deps), ...createEvaluationActivities(deps), ...createDriftActivities(deps) }, maxConcurrentActivityTaskExecutions: 2 };
    case 'control':
      return {
        activities: {
          ...createRegistryActivities(deps),
          ...createApprovalActivities(deps),
          ...createChatActivities(deps),
          ...createRolloutActivities(deps),
          ...createTriggerActivities({ ...deps, client: deps.client! }),
          ...createEnergyActivities(deps),
          ...createEdgeActivities(deps),
        },
        workflowsPath: require.resolve('../workflows') };
  }
}

let runtimeInstalled = false;

/** Builds one pool's worker against the configured services. The caller runs and shuts it down. */
export async function createPoolWorker(pool: WorkerPool, env: FactoryEnv = loadEnv(), extra: Partial<WorkerOptions> = {}): Promise<PoolWorker> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    // The SDK's own log lines (workflow and activity loggers included) go through pino as structured records.
    const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };
    Runtime.install({
      logger: new DefaultLogger('INFO', ({ level, message, meta }) => {
        // pino serialises errors (message, stack, cause) only under "err".
        const { error, ...rest } = meta ?? {};
        logger[levels[level]]({ ...rest, ...(error !== undefined && { err: error }), sdk: 'temporal' }, message);
      }),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
    });
  }
  const c = connections(env);
  const workDir = path.join(dataPaths(env).work, pool);
  fs.mkdirSync(workDir, { recursive: true });
  // The gpu pool gets no database: training hosts only need S3.
  const db = pool === 'gpu' ? undefined : createDbPool(c.databaseUrl);
  // Workers bring the schema up to date themselves, so a fresh deployment needs no separate step.
  if (db) await migrate(db);
  const connection = await NativeConnection.connect({ address: c.temporalAddress, tls: temporalTls(env) });
  // The control pool's trigger activities start and signal workflows themselves.
  const clientSide = pool === 'control' ? await connectClient(env) : undefined;
  const client = clientSide?.client;
  const gpus = new GpuSlots(pool === 'gpu' ? hostGpus(env) : []);
  const version = workerVersion(env);
  const deps = {
    gpus,
    db: db!,
    store: ArtifactStore.fromEnv(env, c.s3Endpoint),
    workDir,
    notifyUrl: env.FACTORY_NOTIFY_URL,
    priceFeed: env.FACTORY_PRICE_FEED,
    client,
    approvalKeys: () => configuredPublicKeys(env),
    slack: env.SLACK_BOT_TOKEN ? slackClient(env) : undefined,
    workflowUrl: (workflowId: string) => workflowUrl(env, workflowId),
  };
  const worker = await Worker.create({
    connection,
    namespace: c.namespace,
    taskQueue: TASK_QUEUES[pool],
    dataConverter: dataConverter(env),
    // Every pool of a build is one version of the deployment: a pipeline or rollout stays on the build it started on
    // (pinned), activities included, until it ends; the loop moves to the current build as it continues (workflows/factory-loop.ts).
    workerDeploymentOptions: { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' },
    ...poolOptions(pool, deps),
    ...extra,
  });
  return {
    worker,
    version,
    gpus: gpus.devices,
    adoptIfFirst: () => adoptIfFirst(connection.workflowService, c.namespace, version, `${pool}@${os.hostname()}`),
    close: async () => {
      await connection.close();
      await clientSide?.connection.close();
      await db?.end();
    },
  };
}

/** Entry point of a worker process: runs until SIGINT/SIGTERM, then drains. */
export async function main(pool: WorkerPool): Promise<void> {
  process.env.FACTORY_SERVICE ??= `worker-${pool}`;
  const env = loadEnv();
  const { worker, close, version, gpus, adoptIfFirst } = await createPoolWorker(pool, env);
  const metricsServer = env.METRICS_PORT ? serveMetrics(env.METRICS_PORT) : undefined;
  const running = worker.run();
  // The build can become current only once the server has seen it poll.
  if (pool === 'control') await adoptIfFirst();
  logger.info({ pool, taskQueue: TASK_QUEUES[pool], metricsPort: env.METRICS_PORT, deployment: version.deploymentName, buildId: version.buildId, ...(pool === 'gpu' && { gpus }) }, 'worker started');
  await running;
  metricsServer?.close();
  await close();
  logger.info({ pool }, 'worker stopped');
}
