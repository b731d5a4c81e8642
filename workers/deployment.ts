import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { FactoryEnv } from '../config/env';
import { logger } from '../config/logger';

type WorkflowService = temporal.api.workflowservice.v1.WorkflowService;
const enums = temporal.api.enums.v1;

const DIST = path.resolve(__dirname, '..');
/** What a worker runs: everything built but the CLI, benchmarks and tests. */
const NOT_RUN_BY_WORKERS = new Set(['scripts', 'test']);

export interface WorkerVersion {
  deploymentName: string;
  buildId: string;
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? (dir === DIST && NOT_RUN_BY_WORKERS.has(e.name) ? [] : sourceFiles(path.join(dir, e.name))) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : []))
    .sort();
}

/**
 * The build this worker runs: FACTORY_BUILD_ID where the release process names
 * it, else a digest of the worker's compiled code, so any change to workflow or
 * activity code is a new build and nothing is ever routed to code it was not
 * recorded with. Every pool of one build has the same id.
 */
export function workerVersion(env: FactoryEnv): WorkerVersion {
  if (env.FACTORY_BUILD_ID) return { deploymentName: env.FACTORY_DEPLOYMENT, buildId: env.FACTORY_BUILD_ID };
  const hash = createHash('sha256');
  for (const file of sourceFiles(DIST)) hash.update(path.relative(DIST, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  return { deploymentName: env.FACTORY_DEPLOYMENT, buildId: `code-${hash.digest('hex').slice(0, 16)}` };
}

export interface DeploymentState {
  current?: string;
  ramping?: { buildId: string; percent: number };
  versions: { buildId: string; status: string; drainage?: string }[];
}

const notFound = (err: unknown) => (err as { code?: number }).code === 5; // gRPC NOT_FOUND

/** Which build new workflows go to, which is ramping, and every version's state (draining, drained…). */
export async function describeDeployment(service: WorkflowService, namespace: string, deploymentName: string): Promise<DeploymentState | undefined> {
  try {
    const { workerDeploymentInfo: info } = await service.describeWorkerDeployment({ namespace, deploymentName });
    const routing = info?.routingConfig;
    // Enum values arrive as numbers; their names, less the prefix, are what a person reads.
    const named = (names: Record<number, string>, value: number | null | undefined, prefix: string) => (value ? names[value]?.replace(prefix, '').toLowerCase() : undefined);
    return {
      current: routing?.currentDeploymentVersion?.buildId || undefined,
      ramping: routing?.rampingDeploymentVersion?.buildId ? { buildId: routing.rampingDeploymentVersion.buildId, percent: routing.rampingVersionPercentage ?? 0 } : undefined,
      versions: (info?.versionSummaries ?? []).map((v) => ({
        buildId: v.deploymentVersion?.buildId ?? '',
        status: named(enums.WorkerDeploymentVersionStatus, v.status, 'WORKER_DEPLOYMENT_VERSION_STATUS_') ?? 'unknown',
        drainage: named(enums.VersionDrainageStatus, v.drainageInfo?.status, 'VERSION_DRAINAGE_STATUS_'),
      })),
    };
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}

/** Retries a call to the deployment (it is one workflow on the server, and rate-limits its callers) with a growing pause. */
async function retrying<T>(what: string, timeoutMs: number, call: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let pauseMs = 500; ; pauseMs = Math.min(pauseMs * 2, 5_000)) {
    let last: unknown;
    try {
      const done = await call();
      if (done !== undefined) return done;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/**
 * Makes `buildId` the build that new workflows start on (and that auto-upgrading
 * ones move to); pinned ones stay on the build they started on until they end.
 * Retries while the server has not yet seen this build's pollers.
 */
export async function setCurrentBuild(service: WorkflowService, namespace: string, version: WorkerVersion, identity: string, timeoutMs = 60_000): Promise<void> {
  await retrying(`could not make build ${version.buildId} current in deployment ${version.deploymentName}`, timeoutMs, async () => {
    await service.setWorkerDeploymentCurrentVersion({ namespace, deploymentName: version.deploymentName, buildId: version.buildId, identity });
    return true;
  });
}

/**
 * A new deployment's first build becomes current by itself, so a fresh factory
 * runs without a release step; after that, moving to another build is a
 * decision (`factory deployment current <build>`), never a side effect of a
 * worker starting. The control pool's workers do it: they run the workflows.
 */
export async function adoptIfFirst(service: WorkflowService, namespace: string, version: WorkerVersion, identity: string): Promise<void> {
  await retrying(`deployment ${version.deploymentName} has no current build and ${version.buildId} could not become it`, 120_000, async () => {
    if ((await describeDeployment(service, namespace, version.deploymentName))?.current) return true;
    // Another control worker may get there first; the next look sees its choice.
    await service.setWorkerDeploymentCurrentVersion({ namespace, deploymentName: version.deploymentName, buildId: version.buildId, identity });
    logger.info({ deployment: version.deploymentName, buildId: version.buildId }, 'first build of the deployment: made current');
    return true;
  });
}
