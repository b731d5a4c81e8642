import type { WebClient } from '@slack/web-api';
import type { Pool } from 'pg';
import type { ArtifactStore } from '../storage/artifacts';

/** What activities need from the outside world, built once per worker and shared. */
export interface ActivityDeps {
  db: Pool;
  store: ArtifactStore;
  /** Scratch space for files handed to child processes. */
  workDir: string;
  /** A chat webhook (Slack-compatible JSON) for rollbacks and escalations; unset: logs and audit trail only. */
  notifyUrl?: string;
  /** Grid prices for energy-aware training: a CSV price curve or an HTTP/JSON feed (energy/README.md). */
  priceFeed?: string;
  /** The approvals service's public keys by key id, read when asked so a rotated key is picked up. */
  approvalKeys: () => Record<string, string>;
  /** Slack's Web API as the factory's bot, where SLACK_BOT_TOKEN is set. */
  slack?: WebClient;
  /** A workflow's page in the Temporal Web UI. */
  workflowUrl: (workflowId: string) => string;
}
