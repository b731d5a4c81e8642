import { listenHost } from '../config/bearer';
import { connections, loadEnv } from '../config/env';
import { logger } from '../config/logger';
import { runService } from '../config/service';
import { createDbPool } from '../db/pool';
import { ArtifactStore } from '../storage/artifacts';
import { PredictionLog } from './prediction-log';
import { ServedModels } from './served-models';
import { buildServer } from './server';

/** One serving replica: its only shared state is PostgreSQL and S3. */
async function main(): Promise<() => Promise<void>> {
  const env = loadEnv();
  const c = connections(env);
  const db = createDbPool(c.databaseUrl);
  const url = env.SERVING_URL ?? `http://127.0.0.1:${env.SERVING_PORT}`;
  const models = new ServedModels(db, c.databaseUrl, ArtifactStore.fromEnv(env, c.s3Endpoint), { maxRows: env.SERVING_MAX_BATCH, maxDelayMs: env.SERVING_MAX_DELAY_MS }, url);
  await models.start(env.SERVING_POLL_MS, env.SERVING_HEARTBEAT_MS);
  const log = new PredictionLog(db, models.replicaId, env.SERVING_LOG_BUFFER);
  const app = buildServer(models, log, env.SERVING_TOKENS);
  await app.listen({ port: env.SERVING_PORT, host: listenHost('serving', env.SERVING_HOST, env.SERVING_TOKENS, 'SERVING_TOKENS') });
  logger.info({ port: env.SERVING_PORT, replica: models.replicaId, models: models.serving(), auth: env.SERVING_TOKENS ? 'bearer' : 'none' }, 'serving started');
  return async () => {
    await app.close();
    await log.stop();
    await models.stop();
    await db.end();
  };
}

runService('serving', main);
