import { z } from 'zod';
import type { ModelSpec } from '../specs/model-spec';
import { modelNameSchema } from '../specs/model-spec';

/** Upper bounds (ms) of the latency histogram's buckets; the last catches the rest. */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, Number.POSITIVE_INFINITY];

/**
 * The bins a device counts its answers in, the same for every device and for
 * the factory's reference, so histograms compare without raw scores crossing
 * the network: probabilities in tenths (binary), the predicted class
 * (multiclass), a predicted value on a signed log10(1 + |v|) scale in quarters
 * from -6 to 6 (regression: scale-free enough for counts and amounts alike).
 */
export function scoreBins(spec: Pick<ModelSpec, 'task' | 'label'>): { count: number; binOf(score: number): number } {
  if (spec.task === 'multiclass-classification') {
    const classes = (spec.label as { classes: unknown[] }).classes.length;
    return { count: classes, binOf: (cls) => Math.min(classes - 1, Math.max(0, Math.round(cls))) };
  }
  if (spec.task === 'regression') {
    return { count: 48, binOf: (v) => Math.min(47, Math.max(0, Math.floor((Math.sign(v) * Math.log10(1 + Math.abs(v)) + 6) * 4))) };
  }
  return { count: 10, binOf: (p) => Math.min(9, Math.max(0, Math.floor(p * 10))) };
}

/** A model version's hour on one device: requests, errors, latency and its answers, as counts. */
export const hourSchema = z.object({
  model: modelNameSchema,
  version: z.number().int().min(1),
  /** The hour's start, ISO. */
  hour: z.string().datetime(),
  requests: z.number().int().min(0),
  errors: z.number().int().min(0),
  latencyMs: z.array(z.number().int().min(0)).length(LATENCY_BOUNDS_MS.length),
  scores: z.array(z.number().int().min(0)).max(1000),
});
export type TelemetryHour = z.infer<typeof hourSchema>;

const noteSchema = z.object({ at: z.string().datetime(), reason: z.string().max(2000) });

/** What an agent tells the gateway when it can: what it serves, what went wrong, and its telemetry since the last report. */
export const reportSchema = z.object({
  at: z.string().datetime(),
  /** The serial of the manifest it serves by. */
  serial: z.number().int().min(0),
  serving: z.array(z.object({ model: modelNameSchema, version: z.number().int().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
  loadErrors: z.array(noteSchema.extend({ model: modelNameSchema, version: z.number().int().min(1) })).max(100),
  /** Manifests it refused since the last report, and why. */
  refusals: z.array(noteSchema.extend({ serial: z.number().int().min(0).optional() })).max(100),
  hours: z.array(hourSchema).max(10_000),
  /** Hours it could not keep while offline (its buffer is bounded). */
  droppedHours: z.number().int().min(0),
});
export type DeviceReport = z.infer<typeof reportSchema>;

/** The latency bucket a request falls in. */
export const latencyBucket = (ms: number) => LATENCY_BOUNDS_MS.findIndex((b) => ms <= b);

/** A quantile of a latency histogram, as the upper bound of the bucket it falls in (Infinity past the last bound). */
export function latencyQuantile(counts: ArrayLike<number>, q: number): number {
  const total = Array.from(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  let seen = 0;
  for (let b = 0; b < counts.length; b++) {
    seen += counts[b];
    if (seen >= q * total) return LATENCY_BOUNDS_MS[b];
  }
  return Number.POSITIVE_INFINITY;
}
