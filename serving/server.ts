import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { bearerTokens } from '../config/bearer';
import { registry } from '../config/metrics';
import { featureValueSchema, timeCellSchema } from '../specs/data-batch';
import { encodeValue, type FeatureValue } from '../specs/feature-encoding';
import { labelClasses, type ModelSpec } from '../specs/model-spec';
import { predictedClasses } from '../ml/task-quality';
import { logger } from '../config/logger';
import { servingMetrics } from './metrics';
import type { PredictionLog } from './prediction-log';
import type { LoadedVersion, ServedModels } from './served-models';

/** A prediction request: one or more rows, each feature by name. */
export const predictBodySchema = z.object({
  instances: z.array(z.record(z.string(), z.unknown())).min(1, 'give at least one instance').max(1000, 'at most 1000 instances per request'),
});

const rowSchemas = new WeakMap<ModelSpec, z.ZodType>();
/** A request row: each feature as the spec allows it, and null for one the model was trained to see missing. */
function rowSchema(spec: ModelSpec) {
  let s = rowSchemas.get(spec);
  if (!s) {
    const missing = spec.validation.missingValues === 'allow';
    s = z.object(Object.fromEntries(spec.features.map((f) => [f.name, missing ? featureValueSchema(f).nullable() : featureValueSchema(f)])));
    rowSchemas.set(spec, s);
  }
  return s;
}

/**
 * The body read against the spec: row-major encoded features
 * (specs/feature-encoding.ts, NaN where missing) and each instance's row id
 * (the spec's id column, where the model has one and the client sent it, so
 * labels that arrive later can be joined for live AUC), or the error message
 * naming the field. A model without an id column knows a row by its content,
 * label included, which a request cannot carry: its requests have no row id.
 */
function readBody(raw: unknown, spec: ModelSpec): { x: Float32Array; ids: (string | null)[]; times: (number | null)[] } | string {
  const body = predictBodySchema.safeParse(raw);
  if (!body.success) return describe(body.error);
  const { features, idColumn } = spec;
  const F = features.length;
  const n = body.data.instances.length;
  const x = new Float32Array(n * F);
  const ids: (string | null)[] = new Array(n);
  const times: (number | null)[] = new Array(n).fill(null);
  const schema = rowSchema(spec);
  for (let i = 0; i < n; i++) {
    const instance = body.data.instances[i];
    const row = schema.safeParse(instance);
    if (!row.success) return describe(row.error, `instances.${i}`);
    const values = row.data as Record<string, FeatureValue | null>;
    for (let j = 0; j < F; j++) {
      const v = values[features[j].name];
      x[i * F + j] = v === null ? NaN : encodeValue(features[j], v);
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
  return { x, ids, times };
}

/**
 * The answer per row: the probability of the positive class (binary), the
 * value (regression), or the most probable class with every class's
 * probability (multiclass, in label.classes order).
 */
function predictions(scores: Float32Array, classes: (string | number)[] | undefined): unknown[] {
  if (!classes) return Array.from(scores);
  const K = classes.length;
  const predicted = predictedClasses(scores, K);
  return Array.from(predicted, (best, i) => ({ class: classes[best], probabilities: Object.fromEntries(classes.map((c, k) => [String(c), scores[i * K + k]])) }));
}

/** What the prediction log keeps per row: the answer itself, or for a multiclass model the predicted class's place (the class distribution is what drifts). */
function loggedScores(scores: Float32Array, width: number): Float32Array {
  return width === 1 ? scores : Float32Array.from(predictedClasses(scores, width));
}

const describe = (e: z.ZodError, prefix = '') => e.issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== '').join('.')}: ${i.message}`).join('; ');

/**
 * The prediction service. Fastify for its low per-request overhead and its
 * hooks; bodies are validated with zod against the model's spec. During a
 * rollout the candidate either scores a copy of each request after the answer
 * has gone (shadow) or answers its share of requests (canary); every scoring
 * goes to the prediction log, which the rollout guard and drift monitor read.
 */
export function buildServer(models: Pick<ServedModels, 'get' | 'serving' | 'replicaId'>, log: Pick<PredictionLog, 'record'>, tokens: string): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const token = bearerTokens(tokens);
  const authorised = (header: string | undefined) => token(header) !== undefined;

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const serving = models.serving();
    const ready = Object.keys(serving).length > 0;
    return reply.code(ready ? 200 : 503).send({ ready, replica: models.replicaId, models: serving });
  });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/v1/models', async (req, reply) => {
    if (!authorised(req.headers.authorization)) return reply.code(401).send({ error: 'missing or wrong bearer token' });
    return { replica: models.replicaId, models: models.serving() };
  });

  app.post<{ Params: { model: string } }>('/v1/models/:model/predict', async (req, reply) => {
    const started = performance.now();
    const { model } = req.params;
    const answer = (code: number, body: unknown, version = 'none', role = 'none') => {
      servingMetrics.requests.inc({ model, version, role, code: String(code) });
      return reply.code(code).send(body);
    };
    if (!authorised(req.headers.authorization)) return answer(401, { error: 'missing or wrong bearer token' });
    const served = models.get(model);
    if (!served) return answer(404, { error: `no champion is served for model "${model}"`, models: Object.keys(models.serving()) });
    const { spec, champion, candidate, rollout } = served;
    const classes = labelClasses(spec);
    const F = spec.features.length;
    const read = readBody(req.body, spec);
    if (typeof read === 'string') return answer(400, { error: read });
    const { x, ids, times } = read;
    const n = x.length / F;
    const requestId = randomUUID();
    const score = async (v: LoadedVersion, role: 'champion' | 'canary' | 'shadow') => {
      const t0 = performance.now();
      const at = Date.now();
      try {
        const scores = await v.batcher.score(x, n);
        log.record({ at, model, version: v.version, role, requestId, latencyMs: performance.now() - t0, ok: true, rows: n, features: x, ids, times, scores: loggedScores(scores, v.scorer.output.width) });
        return scores;
      } catch (err) {
        log.record({ at, model, version: v.version, role, requestId, latencyMs: performance.now() - t0, ok: false, rows: n, features: x, ids, times });
        logger.error({ err, model, version: v.version, role }, 'scoring failed');
        return undefined;
      }
    };
    const canary = rollout?.phase === 'canary' && candidate && Math.random() * 100 < rollout.canaryPercent;
    let answered: LoadedVersion = canary ? candidate : champion;
    let role: 'champion' | 'canary' = canary ? 'canary' : 'champion';
    let scores = await score(answered, role);
    if (!scores && canary) {
      // A failing canary is the candidate's fault, and its record says so; the client still gets the champion's answer.
      [answered, role] = [champion, 'champion'];
      scores = await score(champion, 'champion');
    }
    if (!scores) return answer(500, { error: `scoring failed for ${model} v${answered.version}`, requestId }, String(answered.version), role);
    if (rollout?.phase === 'shadow' && candidate) void score(candidate, 'shadow');
    servingMetrics.latency.observe({ model, version: String(answered.version), role }, (performance.now() - started) / 1000);
    reply.header('x-model-version', String(answered.version));
    reply.header('x-request-id', requestId);
    return answer(200, { model, version: answered.version, predictions: predictions(scores, classes), requestId }, String(answered.version), role);
  });
  return app;
}
