import { LogLevel, WebClient, type Logger } from '@slack/web-api';
import type { FactoryEnv } from '../config/env';
import { logger } from '../config/logger';

const PINO_TO_SLACK: Record<string, LogLevel> = { trace: LogLevel.DEBUG, debug: LogLevel.DEBUG, info: LogLevel.INFO, warn: LogLevel.WARN, error: LogLevel.ERROR, fatal: LogLevel.ERROR, silent: LogLevel.ERROR };

/** Bolt's and the Web API client's logs, through pino. Neither logs tokens unless developerMode is on, which it never is here. */
export function slackLogger(): Logger {
  const slack = logger.child({ component: 'slack' });
  const line = (msg: unknown[]) => msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg: unknown[]) => slack.debug(line(msg)),
    info: (...msg: unknown[]) => slack.info(line(msg)),
    warn: (...msg: unknown[]) => slack.warn(line(msg)),
    error: (...msg: unknown[]) => slack.error(line(msg)),
    setLevel: (level: LogLevel) => {
      slack.level = level;
    },
    getLevel: () => PINO_TO_SLACK[slack.level] ?? LogLevel.INFO,
    setName: () => undefined,
  };
}

/**
 * The factory's Slack Web API client. A few retries (Slack's client waits out
 * a 429's Retry-After itself) and a short timeout: Slack is best effort, and a
 * pipeline never waits long on it.
 */
export function slackClient(env: FactoryEnv): WebClient {
  return new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
    timeout: 10_000,
    logger: slackLogger(),
    logLevel: LogLevel.WARN,
  });
}
