import type { RolloutGuard } from '../specs/model-spec';
import { binomialTail } from './binomial';

/** One version's live figures over a window of the prediction log. */
export interface LiveWindow {
  version: number;
  requests: number;
  errors: number;
  errorRate: number;
  p50Ms: number;
  p99Ms: number;
  meanScore: number;
  /**
   * Requests slower than the guard's latency limit (from the baseline's p99).
   * Absent in figures recorded before it was counted: those rollouts replay
   * with the rule they were judged by.
   */
  slow?: number;
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

/** The p99 a candidate may reach beside a baseline's: a multiple of it, or within the slack of it. */
export function latencyLimitMs(guard: RolloutGuard, baselineP99Ms: number): number {
  return Math.max(baselineP99Ms * guard.maxP99Ratio, baselineP99Ms + guard.p99SlackMs);
}

/**
 * How unlikely the candidate's count of slow requests must be, were no more
 * than 1% of them (or the baseline's share, if higher) slow, before it fails.
 * The guard reads every checkEvery, so each reading must be very sure.
 */
const LATENCY_ALPHA = 0.001;

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
    const limit = latencyLimitMs(guard, b.p99Ms);
    if (c.p99Ms > limit && latencyRegressed(c, b)) {
      const slow = c.slow === undefined || b.slow === undefined ? '' : `: ${c.slow} of ${c.requests} requests slower than that (${pct(c.slow / c.requests)}; v${b.version} ${pct(b.slow / b.requests)})`;
      failures.push(`p99 latency ${c.p99Ms.toFixed(2)} ms exceeds ${limit.toFixed(2)} ms (v${b.version}: ${b.p99Ms.toFixed(2)} ms)${slow}`);
    }
    if (s.scorePsi !== null && s.scorePsi > guard.maxScorePsi) {
      failures.push(`score distribution shifted: PSI ${s.scorePsi.toFixed(3)} > ${guard.maxScorePsi} (mean score ${c.meanScore.toFixed(3)} vs ${b.meanScore.toFixed(3)})`);
    }
  }
  return { healthy: failures.length === 0, enough, failures };
}

/**
 * A p99 over a few hundred requests is their two or three slowest, and a
 * pause of the shared host makes those slow for both versions at once. So the
 * candidate fails on latency only when more of its requests cross the limit
 * than 1% (or the baseline's share beyond the same limit, whichever is higher)
 * would give by chance.
 */
function latencyRegressed(c: LiveWindow, b: LiveWindow): boolean {
  if (c.slow === undefined || b.slow === undefined) return true;
  const expected = Math.max(0.01, b.requests ? b.slow / b.requests : 0);
  return binomialTail(c.requests, c.slow, expected) < LATENCY_ALPHA;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
