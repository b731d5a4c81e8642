import type { Stack } from '../../stack';

export default async function globalTeardown(): Promise<void> {
  await ((globalThis as Record<string, unknown>).__factoryStack as Stack | undefined)?.stop();
}
