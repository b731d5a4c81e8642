import { LogLevel, WebClient } from '@slack/web-api';
import type { FactoryEnv } from '../config/env';

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
    logLevel: LogLevel.WARN,
  });
}
