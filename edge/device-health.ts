import type { EdgeDeviceState } from '../contracts/messages';
import type { TelemetrySum } from '../db/edge';
import { psiOfCounts } from '../ml/drift';
import type { rolloutGuardSchema } from '../specs/model-spec';
import type { z } from 'zod';
import { latencyQuantile } from './telemetry';

type Guard = z.infer<typeof rolloutGuardSchema>;

export interface DeviceEvidence {
  device: string;
  /** The device has reported since it was told to serve the new version. */
  reportedSince: boolean;
  /** The version it serves of this model, by its latest report. */
  serving?: number;
  /** A load error or refusal of the new version it reported. */
  loadError?: string;
  /** Its telemetry for the new version, and for the version before on it, since the deployment began. */
  current?: TelemetrySum;
  previous?: TelemetrySum;
}

/**
 * One device in a ring, as the rollout judges it: failed if it could not load
 * the new version or its traffic breaks the model's rollout guard against the
 * version it served before (error rate, p99 latency, score distribution, each
 * once there are enough requests); done once it serves the new version; else
 * pending (offline, still downloading).
 */
export function judgeDevice(e: DeviceEvidence, version: number, guard: Guard, minRequests: number): EdgeDeviceState {
  if (e.loadError) return { device: e.device, state: 'failed', reason: e.loadError };
  if (!e.reportedSince || e.serving !== version) return { device: e.device, state: 'pending' };
  const c = e.current;
  if (c && c.requests >= minRequests) {
    const errorRate = c.errors / c.requests;
    if (errorRate > guard.maxErrorRate) return { device: e.device, state: 'failed', reason: `error rate ${(100 * errorRate).toFixed(1)}% above ${100 * guard.maxErrorRate}%` };
    const p = e.previous;
    if (p && p.requests >= minRequests) {
      const [now, before] = [latencyQuantile(c.latencyMs, 0.99), latencyQuantile(p.latencyMs, 0.99)];
      if (now > Math.max(before * guard.maxP99Ratio, before + guard.p99SlackMs)) return { device: e.device, state: 'failed', reason: `p99 latency ≤ ${now} ms against ≤ ${before} ms before` };
      if (c.scores.length === p.scores.length) {
        const shift = psiOfCounts(p.scores, c.scores);
        if (shift > guard.maxScorePsi) return { device: e.device, state: 'failed', reason: `score distribution shifted: PSI ${shift.toFixed(3)} > ${guard.maxScorePsi}` };
      }
    }
  }
  return { device: e.device, state: 'done' };
}
