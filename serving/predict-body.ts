import { z } from 'zod';
import { featureValueReader, timeCellSchema, type ValueError } from '../specs/data-batch';
import { encodeValue, type FeatureValue } from '../specs/feature-encoding';
import type { ModelSpec } from '../specs/model-spec';
import { predictedClasses } from '../ml/task-quality';

/** A prediction request: one or more rows, each feature by name (each row's values are read against the spec below). */
const predictBodySchema = z.object({
  instances: z
    .array(z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be an object of feature values by name'))
    .min(1, 'give at least one instance')
    .max(1000, 'at most 1000 instances per request'),
});

const readers = new WeakMap<ModelSpec, ((v: unknown) => FeatureValue | ValueError)[]>();
/** Each feature's value reader (specs/data-batch.ts), made once per spec. */
function readersOf(spec: ModelSpec) {
  let r = readers.get(spec);
  if (!r) readers.set(spec, (r = spec.features.map(featureValueReader)));
  return r;
}

/** A request's rows as read: row-major encoded features, and each row's id and time where there are any. */
export interface BodyRows {
  rows: number;
  x: Float32Array;
  ids: (string | null)[];
  times: (number | null)[];
}

/**
 * The body read against the spec: row-major encoded features
 * (specs/feature-encoding.ts, NaN where missing) and each instance's row id
 * (the spec's id column, where the model has one and the client sent it, so
 * labels that arrive later can be joined for live AUC), or the error message
 * naming the field. A model without an id column knows a row by its content,
 * label included, which a request cannot carry: its requests have no row id.
 */
export function readBody(raw: unknown, spec: ModelSpec): BodyRows | string {
  const body = predictBodySchema.safeParse(raw);
  if (!body.success) return describe(body.error);
  const { features, idColumn } = spec;
  const F = features.length;
  const n = body.data.instances.length;
  const x = new Float32Array(n * F);
  const ids: (string | null)[] = new Array(n);
  const times: (number | null)[] = new Array(n).fill(null);
  const read = readersOf(spec);
  const missing = spec.validation.missingValues === 'allow';
  for (let i = 0; i < n; i++) {
    const instance = body.data.instances[i];
    for (let j = 0; j < F; j++) {
      const raw = instance[features[j].name];
      if (raw === null && missing) {
        x[i * F + j] = NaN;
        continue;
      }
      const v = read[j](raw);
      if (typeof v === 'object') return `instances.${i}.${features[j].name}: ${v.error}`;
      x[i * F + j] = encodeValue(features[j], v);
    }
    const id = idColumn === undefined ? undefined : instance[idColumn];
    ids[i] = typeof id === 'string' || typeof id === 'number' ? String(id) : null;
    const time = spec.timeColumn === undefined ? undefined : instance[spec.timeColumn];
    if (time !== undefined && time !== null) {
      const parsed = timeCellSchema.safeParse(String(time));
      if (!parsed.success) return `instances.${i}.${spec.timeColumn}: ${parsed.error.issues[0].message}`;
      times[i] = parsed.data;
    }
  }
  return { rows: n, x, ids, times };
}

/**
 * The answer per row: the probability of the positive class (binary), the
 * value (regression), or the most probable class with every class's
 * probability (multiclass, in label.classes order).
 */
export function predictions(scores: Float32Array, classes: (string | number)[] | undefined): unknown[] {
  if (!classes) return Array.from(scores);
  const K = classes.length;
  const predicted = predictedClasses(scores, K);
  return Array.from(predicted, (best, i) => ({ class: classes[best], probabilities: Object.fromEntries(classes.map((c, k) => [String(c), scores[i * K + k]])) }));
}

/** What the prediction log keeps per row: the answer itself, or for a multiclass model the predicted class's place (the class distribution is what drifts). */
export function loggedScores(scores: Float32Array, width: number): Float32Array {
  return width === 1 ? scores : Float32Array.from(predictedClasses(scores, width));
}

const describe = (e: z.ZodError, prefix = '') => e.issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== '').join('.')}: ${i.message}`).join('; ');
