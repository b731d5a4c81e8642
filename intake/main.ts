import { Client, Connection } from '@temporalio/client';
import { connections, loadEnv } from '../config/env';
import { logger } from '../config/logger';
import { runService } from '../config/service';
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
  const connection = await Connection.connect({ address: c.temporalAddress });
  const client = new Client({ connection, namespace: c.namespace });
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
  const app = buildIntakeServer(deps, env.INTAKE_TOKENS);
  await app.listen({ port: env.INTAKE_PORT, host: '0.0.0.0' });
  const watcher = watchLanding(new LandingArea(store.client, store.bucket), deps, env.INTAKE_POLL_MS);
  logger.info({ port: env.INTAKE_PORT, landing: `s3://${store.bucket}/incoming/<model>/`, auth: env.INTAKE_TOKENS ? 'bearer' : 'none' }, 'intake started');
  return async () => {
    await app.close();
    await watcher.stop();
    await connection.close();
    await db.end();
  };
}

runService('intake', main);
