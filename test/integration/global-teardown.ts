import type { ChildProcess } from 'node:child_process';
import type { Stack } from '../../stack';
import { stopProcess } from '../../stack/process';
import { recordHistories } from './record-histories';

export default async function globalTeardown(): Promise<void> {
  if (process.env.FACTORY_RECORD_HISTORIES === '1') {
    const files = await recordHistories();
    process.stderr.write(`recorded ${files.length} workflow histories as replay fixtures\n`);
  }
  const approvals = (globalThis as Record<string, unknown>).__factoryApprovals as ChildProcess | undefined;
  if (approvals) await stopProcess(approvals);
  await ((globalThis as Record<string, unknown>).__factoryStack as Stack | undefined)?.stop();
}
