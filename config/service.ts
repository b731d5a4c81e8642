import { logger } from './logger';

/**
 * A long-running service's entry point: `start` brings it up and returns how
 * to stop it; SIGINT or SIGTERM stops it and exits, a failed start exits 1.
 */
export function runService(name: string, start: () => Promise<() => Promise<void>>): void {
  process.env.FACTORY_SERVICE ??= name;
  start().then(
    (stop) => {
      const exit = () => void stop().finally(() => process.exit(0));
      process.once('SIGINT', exit);
      process.once('SIGTERM', exit);
    },
    (err) => {
      logger.error({ err }, `${name} failed to start`);
      process.exit(1);
    },
  );
}
