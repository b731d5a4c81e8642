import { envSchema } from '../config/env';

/**
 * The command line that starts a background process (FACTORY_BACKGROUND_NICE,
 * config/env.ts) at its lower CPU priority. Through nice(1) rather than
 * renicing after the start, so every thread the process creates inherits it.
 */
export function asBackground(command: string, args: string[]): [string, string[]] {
  const nice = envSchema.shape.FACTORY_BACKGROUND_NICE.parse(process.env.FACTORY_BACKGROUND_NICE);
  return nice === 0 ? [command, args] : ['nice', ['-n', String(nice), command, ...args]];
}
