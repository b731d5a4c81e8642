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
}
