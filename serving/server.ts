import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registry } from '../config/metrics';
import { featureValueSchema } from '../specs/data-batch';
import type { FeatureSpec } from '../specs/model-spec';
import type { ChampionSet } from './champions';
import { servingMetrics } from './metrics';

/** A prediction request: one or more rows, each feature by name. */
export const predictBodySchema = z.object({
  instances: z.array(z.record(z.string(), z.unknown())).min(1, 'give at least one instance').max(1000, 'at most 1000 instances per request'),
});

const rowSchemas = new WeakMap<FeatureSpec[], z.ZodType>();
function rowSchema(features: FeatureSpec[]) {
  let s = rowSchemas.get(features);
  if (!s) {
    s = z.object(Object.fromEntries(features.map((f) => [f.name, featureValueSchema(f)])));
    rowSchemas.set(features, s);
  }
  return s;
}

const describe = (e: z.ZodError, prefix = '') => e.issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== '').join('.')}: ${i.message}`).join('; ');

/**
 * The prediction service. Fastify for its low per-request overhead and its
 * hooks; bodies are validated with zod against the model's spec.
 */
export function buildServer(champions: Pick<ChampionSet, 'get' | 'versions'>, tokens: string[]): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const accepted = tokens.map((t) => Buffer.from(t));
  const authorised = (header: string | undefined) => {
    if (accepted.length === 0) return true;
    const given = Buffer.from((header ?? '').replace(/^Bearer\s+/i, ''));
    return accepted.some((t) => t.length === given.length && timingSafeEqual(t, given));
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const versions = champions.versions();
    return reply.code(Object.keys(versions).length > 0 ? 200 : 503).send({ ready: Object.keys(versions).length > 0, models: versions });
  });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/v1/models', async (req, reply) => {
    if (!authorised(req.headers.authorization)) return reply.code(401).send({ error: 'missing or wrong bearer token' });
    return { models: champions.versions() };
  });

  app.post<{ Params: { model: string } }>('/v1/models/:model/predict', async (req, reply) => {
    const started = process.hrtime.bigint();
    const { model } = req.params;
    const answer = (code: number, body: unknown, version = 'none') => {
      servingMetrics.requests.inc({ model, version, code: String(code) });
      return reply.code(code).send(body);
    };
    if (!authorised(req.headers.authorization)) return answer(401, { error: 'missing or wrong bearer token' });
    const loaded = champions.get(model);
    if (!loaded) return answer(404, { error: `no champion is served for model "${model}"`, models: Object.keys(champions.versions()) });
    const body = predictBodySchema.safeParse(req.body);
    if (!body.success) return answer(400, { error: describe(body.error) });
    const { spec, batcher, version } = loaded;
    const F = spec.features.length;
    const x = new Float32Array(body.data.instances.length * F);
    const schema = rowSchema(spec.features);
    for (let i = 0; i < body.data.instances.length; i++) {
      const row = schema.safeParse(body.data.instances[i]);
      if (!row.success) return answer(400, { error: describe(row.error, `instances.${i}`) });
      const values = row.data as Record<string, number>;
      spec.features.forEach((f, j) => (x[i * F + j] = values[f.name]));
    }
    const scores = await batcher.score(x, body.data.instances.length);
    servingMetrics.latency.observe({ model, version: String(version) }, Number(process.hrtime.bigint() - started) / 1e9);
    reply.header('x-model-version', String(version));
    return answer(200, { model, version, predictions: Array.from(scores) }, String(version));
  });
  return app;
}
