import os from 'node:os';
import { envSchema } from '../config/env';

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
  if (nice > 0) os.setPriority(pid, nice);
}

const backgroundNice = () => envSchema.shape.FACTORY_BACKGROUND_NICE.parse(process.env.FACTORY_BACKGROUND_NICE);
