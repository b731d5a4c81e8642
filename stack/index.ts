import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { connections, dataPaths, embeddedPostgresUrl, type FactoryEnv } from '../config/env';
import { logger } from '../config/logger';
import { migrate } from '../db/migrate';
import { createDbPool } from '../db/pool';
import { startPostgres } from './postgres';
import { freePort, type ServiceHandle } from './process';
import { startS3 } from './s3';
import { startTemporal } from './temporal';
import { startTemporalCluster } from './temporal-cluster';
import type { ClusterCerts } from './certs';

export interface Stack {
  temporal: ServiceHandle & { uiUrl: string; restart(): Promise<void> };
  postgres: Awaited<ReturnType<typeof startPostgres>>;
  s3: Awaited<ReturnType<typeof startS3>>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** A Temporal cluster instead of the dev server, with mutual TLS where certificates are given. */
  cluster?: { certs?: ClusterCerts };
  /** The codec endpoint the Web UI decrypts payloads through, where payloads are encrypted. */
  codecUrl?: string;
}

/**
 * The settings of a private stack (tests, benchmarks): a fresh data dir and
 * free ports for Temporal, its UI, S3 and the embedded PostgreSQL, and
 * passwords of their own.
 */
export async function privateStackEnv(dataDir: string): Promise<Record<string, string>> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    FACTORY_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TEMPORAL_UI_PORT: String(await freePort()),
    S3_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    // Secrets of this stack alone, so a search of its logs and histories for them means something.
    EMBEDDED_PG_PASSWORD: randomBytes(18).toString('hex'),
    S3_SECRET_ACCESS_KEY: randomBytes(24).toString('hex'),
  };
}

/** The same PostgreSQL server, another database on it. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Starts (or reuses) Temporal (the dev server, or a cluster), PostgreSQL and S3, applies migrations, and
 * returns handles that stop only what this call started.
 */
export async function startStack(env: FactoryEnv, { cluster, codecUrl }: StackOptions = {}): Promise<Stack> {
  const paths = dataPaths(env);
  const c = connections(env);
  const pgLog = logger.child({ component: 'postgres' });
  const started: ServiceHandle[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) {
      await s.stop().catch((err) => logger.warn({ err, component: s.name }, 'stop failed'));
    }
  };
  const owned = <T extends ServiceHandle>(h: T) => (started.push(h), h);
  try {
    const postgresReady = startPostgres(env.DATABASE_URL, { url: embeddedPostgresUrl(env), dataDir: paths.postgres, port: env.EMBEDDED_PG_PORT, password: env.EMBEDDED_PG_PASSWORD }, (line) => pgLog.debug(line.trim())).then(owned);
    const [postgres, s3, temporal] = await Promise.all([
      postgresReady,
      startS3(env, paths.s3, `${paths.logs}/versitygw.log`).then(owned),
      cluster
        ? // The cluster keeps its databases on TEMPORAL_DATABASE_URL's server, or beside the factory's own.
          postgresReady.then((pg) =>
            startTemporalCluster({
              address: c.temporalAddress,
              uiPort: env.TEMPORAL_UI_PORT,
              namespace: c.namespace,
              databaseUrl: env.TEMPORAL_DATABASE_URL ?? withDatabase(pg.url, 'temporal'),
              logsDir: paths.logs,
              certs: cluster.certs,
              codecUrl,
            }).then(owned),
          )
        : startTemporal({
            address: c.temporalAddress,
            uiPort: env.TEMPORAL_UI_PORT,
            namespace: c.namespace,
            dbFile: paths.temporalDb,
            logFile: `${paths.logs}/temporal.log`,
            codecUrl,
          }).then(owned),
    ]);
    const pool = createDbPool(postgres.url);
    const applied = await migrate(pool).finally(() => pool.end());
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    for (const s of [temporal, postgres, s3]) {
      logger.info({ component: s.name, address: s.address, reused: !s.owned }, `${s.name} ready`);
    }
    return { temporal, postgres, s3, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
