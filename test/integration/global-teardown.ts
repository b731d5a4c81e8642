import type { Stack } from '../../stack';
import { recordHistories } from './record-histories';

export default async function globalTeardown(): Promise<void> {
  if (process.env.FACTORY_RECORD_HISTORIES === '1') {
    const files = await recordHistories();
    process.stderr.write(`recorded ${files.length} workflow histories as replay fixtures\n`);
  }
  await ((globalThis as Record<string, unknown>).__factoryStack as Stack | undefined)?.stop();
}
