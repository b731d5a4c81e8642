import os from 'node:os';
import { envSchema } from '../config/env';
import { logger } from '../config/logger';

/**
 * The command line that starts a background process (FACTORY_BACKGROUND_NICE,
 * config/env.ts) at its lower CPU priority. Through nice(1) rather than
 * renicing after the start, so every thread the process creates inherits it.
 */
export function asBackground(command: string, args: string[]): [string, string[]] {
  const nice = backgroundNice();
  return nice === 0 ? [command, args] : ['nice', ['-n', String(nice), command, ...args]];
}

/**
 * Lowers a running process to background priority: for a server started by a
 * library, such as PostgreSQL's postmaster, whose later children (a backend per
 * connection) inherit it.
 */
export function toBackground(pid: number): void {
  const nice = backgroundNice();
  if (nice === 0) return;
  try {
    os.setPriority(pid, nice);
  } catch (err) {
    // A priority is a preference: a process this user may not renice runs at its own, and says so.
    logger.warn({ pid, nice, error: (err as Error).message }, 'could not lower the process to background priority');
  }
}

function backgroundNice(): number {
  const nice = envSchema.shape.FACTORY_BACKGROUND_NICE.safeParse(process.env.FACTORY_BACKGROUND_NICE);
  if (!nice.success) throw new Error(`FACTORY_BACKGROUND_NICE: ${nice.error.issues[0].message}`);
  return nice.data;
}
