import fs from 'node:fs';
import path from 'node:path';

/** A scratch directory under the worker's work dir, removed however fn ends. */
export async function inScratch<T>(workDir: string, prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(workDir, prefix));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
