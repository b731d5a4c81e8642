import fs from 'node:fs';
import path from 'node:path';
import { connections, loadEnv } from '../../config/env';
import { createDbPool } from '../../db/pool';
import { addPerson, issueToken } from '../../people/directory';
import { privateStackEnv, startStack } from '../../stack';
import { freePort, startProcess, waitFor } from '../../stack/process';

/**
 * The directory every integration test shares: approvers of the shipped
 * specs (group model-approvers), and mallory, who is in the directory but
 * approves nothing. Their tokens reach the tests through the environment.
 */
const PEOPLE: { id: string; groups: string[]; slack?: { teamId: string; userId: string } }[] = [
  { id: 'alice', groups: ['model-approvers'], slack: { teamId: 'T0FACTORY', userId: 'U0ALICE' } },
  { id: 'bob', groups: ['model-approvers'], slack: { teamId: 'T0FACTORY', userId: 'U0BOB' } },
  { id: 'carol', groups: ['model-approvers'] },
  { id: 'mallory', groups: [], slack: { teamId: 'T0FACTORY', userId: 'U0MALLORY' } },
];

/**
 * Starts the real stack for the integration tests: the Temporal dev server,
 * PostgreSQL (embedded unless DATABASE_URL is set) and versitygw (unless
 * S3_ENDPOINT is set), on free ports and a fresh data dir.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = path.resolve(__dirname, '../../../.factory/test-stack');
  Object.assign(process.env, {
    ...(await privateStackEnv(dataDir)),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // One priority for the whole test stack: the tests' own traffic runs flat out on this host (no real deployment has its clients
    // there), and behind it a niced Temporal, PostgreSQL and S3 would starve. test/unit/priority.test.ts covers the priorities.
    FACTORY_BACKGROUND_NICE: process.env.FACTORY_BACKGROUND_NICE ?? '0',
  });
  const stack = await startStack(loadEnv());
  (globalThis as Record<string, unknown>).__factoryStack = stack;

  const env = loadEnv();
  const db = createDbPool(connections(env).databaseUrl);
  const tokens: Record<string, string> = {};
  try {
    for (const p of PEOPLE) {
      await addPerson(db, { id: p.id, displayName: p.id[0].toUpperCase() + p.id.slice(1), groups: p.groups, slack: p.slack }, 'test-setup');
      tokens[p.id] = await issueToken(db, p.id, 'test-setup');
    }
  } finally {
    await db.end();
  }
  process.env.FACTORY_TEST_TOKENS = JSON.stringify(tokens);

  // The approvals service every test's decisions go through (it also creates the signing key the workers read).
  const port = await freePort();
  process.env.APPROVALS_PORT = String(port);
  const logFile = path.join(dataDir, 'logs', 'approvals.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const approvals = startProcess(process.execPath, [path.resolve(__dirname, '../../approvals/main.js')], logFile, { ...process.env, FACTORY_SERVICE: 'approvals' });
  await waitFor(`approvals service on ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 30_000, approvals, logFile);
  (globalThis as Record<string, unknown>).__factoryApprovals = approvals;
}
