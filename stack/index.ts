import fs from 'node:fs';
import { connections, dataPaths, type FactoryEnv } from '../config/env';
import { logger } from '../config/logger';
import { migrate } from '../db/migrate';
import { createDbPool } from '../db/pool';
import { startPostgres } from './postgres';
import { freePort, type ServiceHandle } from './process';
import { startS3 } from './s3';
import { startTemporal } from './temporal';

export interface Stack {
  temporal: Awaited<ReturnType<typeof startTemporal>>;
  postgres: Awaited<ReturnType<typeof startPostgres>>;
  s3: Awaited<ReturnType<typeof startS3>>;
  stop(): Promise<void>;
}

/**
 * The settings of a private stack (tests, benchmarks): a fresh data dir and
 * free ports for Temporal, its UI, S3 and the embedded PostgreSQL.
 */
export async function privateStackEnv(dataDir: string): Promise<Record<string, string>> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    FACTORY_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TEMPORAL_UI_PORT: String(await freePort()),
    S3_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
  };
}

/**
 * Starts (or reuses) Temporal, PostgreSQL and S3, applies migrations, and
 * returns handles that stop only what this call started.
 */
export async function startStack(env: FactoryEnv): Promise<Stack> {
  const paths = dataPaths(env);
  const c = connections(env);
  const pgLog = logger.child({ component: 'postgres' });
  const started: ServiceHandle[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) {
      await s.stop().catch((err) => logger.warn({ err, component: s.name }, 'stop failed'));
    }
  };
  try {
    const [postgres, s3, temporal] = await Promise.all([
      startPostgres(env.DATABASE_URL, paths.postgres, env.EMBEDDED_PG_PORT, (line) => pgLog.debug(line.trim())).then(
        (h) => (started.push(h), h),
      ),
      startS3(env, paths.s3, `${paths.logs}/versitygw.log`).then((h) => (started.push(h), h)),
      startTemporal({
        address: c.temporalAddress,
        uiPort: env.TEMPORAL_UI_PORT,
        namespace: c.namespace,
        dbFile: paths.temporalDb,
        logFile: `${paths.logs}/temporal.log`,
      }).then((h) => (started.push(h), h)),
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
