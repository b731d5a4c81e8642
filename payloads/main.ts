import { listenHost } from '../config/bearer';
import { loadEnv } from '../config/env';
import { logger } from '../config/logger';
import { runService } from '../config/service';
import { AesGcmCodec } from './codec';
import { buildCodecServer } from './codec-server';
import { fingerprint, payloadKeys } from './keys';

/** The codec endpoint: the Web UI's way to show payloads the factory encrypted (payloads/codec.ts). */
runService('codec', async () => {
  const env = loadEnv();
  const keys = payloadKeys(env);
  if (keys.length === 0) throw new Error('the codec endpoint needs the payload keys: set FACTORY_PAYLOAD_KEYS or FACTORY_PAYLOAD_KEYS_FILE');
  const host = env.TEMPORAL_ADDRESS.split(':')[0];
  // On one host the UI is reached by its IP or as localhost: both are the person at the browser.
  const uiOrigins = env.CODEC_UI_ORIGINS?.split(',').map((o) => o.trim()).filter(Boolean) ?? [`http://${host}:${env.TEMPORAL_UI_PORT}`, `http://localhost:${env.TEMPORAL_UI_PORT}`];
  const app = buildCodecServer(new AesGcmCodec(keys), { uiOrigins, tokens: env.CODEC_TOKENS });
  await app.listen({ port: env.CODEC_PORT, host: listenHost('codec', env.CODEC_HOST, env.CODEC_TOKENS, 'CODEC_TOKENS') });
  logger.info({ port: env.CODEC_PORT, uiOrigins, keys: keys.map((k) => ({ id: k.id, fingerprint: fingerprint(k) })) }, 'codec endpoint started');
  return () => app.close();
});
