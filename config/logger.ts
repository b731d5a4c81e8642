import pino from 'pino';

/** Logs go to stderr so a command's stdout carries only its answer. */
export const logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service: process.env.FACTORY_SERVICE ?? 'factory' },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination(2),
);

export type Logger = typeof logger;
