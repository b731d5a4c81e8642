import { loadOrCreateEd25519 } from '../config/ed25519-key-file';
import { connections, dataPaths, loadEnv } from '../config/env';
import { logger } from '../config/logger';
import { runService } from '../config/service';
import { createDbPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { durationMs } from '../specs/duration';
import { ArtifactStore } from '../storage/artifacts';
import { buildGatewayServer } from './gateway';
import { edgeKeyId } from './manifest';

/** The edge gateway: the one holder of the manifest signing key, between the registry and the devices. */
runService('edge-gateway', async () => {
  const env = loadEnv();
  const c = connections(env);
  const db = createDbPool(c.databaseUrl);
  await migrate(db);
  const key = loadOrCreateEd25519(env.FACTORY_EDGE_KEY_FILE ?? dataPaths(env).edgeKey, 'edge manifest signing key');
  const app = buildGatewayServer({ db, store: ArtifactStore.fromEnv(env, c.s3Endpoint), key, manifestTtlMs: durationMs(env.EDGE_MANIFEST_TTL) });
  await app.listen({ port: env.EDGE_GATEWAY_PORT, host: env.EDGE_GATEWAY_HOST });
  logger.info({ port: env.EDGE_GATEWAY_PORT, keyId: edgeKeyId(key.publicKeyHex), publicKey: key.publicKeyHex }, 'edge gateway started');
  return async () => {
    await app.close();
    await db.end();
  };
});
