import fs from 'node:fs';
import path from 'node:path';
import { loadEnv } from '../../config/env';
import { startStack } from '../../stack';
import { freePort } from '../../stack/process';

/**
 * Starts the real stack for the integration tests: the Temporal dev server,
 * PostgreSQL (embedded unless DATABASE_URL is set) and versitygw (unless
 * S3_ENDPOINT is set), on free ports and a fresh data dir.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = path.resolve(__dirname, '../../../.factory/test-stack');
  fs.rmSync(dataDir, { recursive: true, force: true });
  Object.assign(process.env, {
    FACTORY_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TEMPORAL_UI_PORT: String(await freePort()),
    S3_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  (globalThis as Record<string, unknown>).__factoryStack = await startStack(loadEnv());
}
