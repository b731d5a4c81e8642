import type { RolloutGuard } from '../specs/model-spec';

/** One version's live figures over a window of the prediction log. */
export interface LiveWindow {
  version: number;
  requests: number;
  errors: number;
  errorRate: number;
  p50Ms: number;
  p99Ms: number;
  meanScore: number;
}

/** The candidate's window beside the one it is judged against (the champion's, same time or before). */
export interface GuardStats {
  candidate: LiveWindow;
  baseline: LiveWindow;
  /** PSI of the candidate's scores against the baseline's; null while either has too few scores. */
  scorePsi: number | null;
}

export interface GuardVerdict {
  healthy: boolean;
  /** Whether both versions have answered enough requests for the figures to mean anything. */
  enough: boolean;
  failures: string[];
}

/**
 * Pure, so the rollout workflow can call it: the activity reads the log, the
 * workflow decides. A candidate fails on errors, latency or a shifted score
 * distribution; errors count as soon as they appear, the rest only once there
 * is enough traffic to judge.
 */
export function judgeRollout(guard: RolloutGuard, minRequests: number, s: GuardStats): GuardVerdict {
  const { candidate: c, baseline: b } = s;
  const enough = c.requests >= minRequests && b.requests >= minRequests;
  const failures: string[] = [];
  // A burst of failures is evidence on its own; waiting for minRequests would only serve more of them.
  if (c.errors > 0 && c.errorRate > guard.maxErrorRate && c.errorRate > b.errorRate) {
    failures.push(`error rate ${pct(c.errorRate)} (${c.errors}/${c.requests}) exceeds ${pct(guard.maxErrorRate)} and v${b.version}'s ${pct(b.errorRate)}`);
  }
  if (enough) {
    const limit = Math.max(b.p99Ms * guard.maxP99Ratio, b.p99Ms + guard.p99SlackMs);
    if (c.p99Ms > limit) failures.push(`p99 latency ${c.p99Ms.toFixed(2)} ms exceeds ${limit.toFixed(2)} ms (v${b.version}: ${b.p99Ms.toFixed(2)} ms)`);
    if (s.scorePsi !== null && s.scorePsi > guard.maxScorePsi) {
      failures.push(`score distribution shifted: PSI ${s.scorePsi.toFixed(3)} > ${guard.maxScorePsi} (mean score ${c.meanScore.toFixed(3)} vs ${b.meanScore.toFixed(3)})`);
    }
  }
  return { healthy: failures.length === 0, enough, failures };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
