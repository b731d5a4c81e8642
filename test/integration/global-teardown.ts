import type { ChildProcess } from 'node:child_process';
import type { Stack } from '../../stack';
import { stopProcess } from '../../stack/process';
import { recordHistories } from './record-histories';
import { auditSecrets } from './secrets-audit';

export default async function globalTeardown(): Promise<void> {
  if (process.env.FACTORY_RECORD_HISTORIES === '1') {
    const files = await recordHistories();
    process.stderr.write(`recorded ${files.length} workflow histories as replay fixtures\n`);
  }
  try {
    // The bearer tokens the tests give the services.
    process.stderr.write(`${await auditSecrets({ servingToken: 's3cret', intakeToken: 'feed-token', fuzzToken: 'fuzz-token' })}\n`);
  } finally {
    await stopStack();
  }
}

async function stopStack(): Promise<void> {
  const approvals = (globalThis as Record<string, unknown>).__factoryApprovals as ChildProcess | undefined;
  if (approvals) await stopProcess(approvals);
  await ((globalThis as Record<string, unknown>).__factoryStack as Stack | undefined)?.stop();
}
