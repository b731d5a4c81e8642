import { listenHost } from '../config/bearer';
import { connections, loadEnv } from '../config/env';
import { logger } from '../config/logger';
import { runService } from '../config/service';
import { connectClient } from '../config/temporal-connection';
import { findModel, UnknownModelError } from '../db/models';
import { createDbPool } from '../db/pool';
import { ArtifactStore } from '../storage/artifacts';
import { LandingArea } from '../storage/landing';
import { watchLanding } from './landing-watcher';
import { buildIntakeServer } from './server';
import { submitBatch } from './submit';

/** The data intake: batches over HTTP and from the S3 landing area, into the same ingest workflow as the CLI's. */
async function main(): Promise<() => Promise<void>> {
  const env = loadEnv();
  const c = connections(env);
  const db = createDbPool(c.databaseUrl);
  const store = ArtifactStore.fromEnv(env, c.s3Endpoint);
  const { client, connection } = await connectClient(env);
  const deps = {
    submit: (model: string, bytes: Buffer, source: string, actor: string) => submitBatch({ client, store }, { model, bytes, source, actor }),
    modelExists: (model: string) =>
      findModel(db, model).then(
        () => true,
        (err) => {
          if (err instanceof UnknownModelError) return false;
          throw err;
        },
      ),
  };
  const app = buildIntakeServer(deps, env.INTAKE_TOKENS, { maxBytes: env.INTAKE_MAX_BYTES, maxRows: env.INTAKE_MAX_ROWS });
  await app.listen({ port: env.INTAKE_PORT, host: listenHost('intake', env.INTAKE_HOST, env.INTAKE_TOKENS, 'INTAKE_TOKENS') });
  const watcher = watchLanding(new LandingArea(store.client, store.bucket), deps, env.INTAKE_POLL_MS, env.INTAKE_MAX_BYTES);
  logger.info({ port: env.INTAKE_PORT, landing: `s3://${store.bucket}/incoming/<model>/`, auth: env.INTAKE_TOKENS ? 'bearer' : 'none' }, 'intake started');
  return async () => {
    await app.close();
    await watcher.stop();
    await connection.close();
    await db.end();
  };
}

runService('intake', main);
