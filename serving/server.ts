import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { bearerTokens } from '../config/bearer';
import { answerErrorsWithReasons } from '../config/http-errors';
import { registry } from '../config/metrics';
import { labelClasses } from '../specs/label';
import { loggedScores, predictions, readBody } from './predict-body';
import { logger } from '../config/logger';
import { latencyObserved, requestsCounted, servingMetrics } from './metrics';
import type { PredictionLog } from './prediction-log';
import type { LoadedVersion, ServedModels } from './served-models';

const UNKNOWN_MODEL = '(not served)';

/**
 * The prediction service. Fastify for its low per-request overhead and its
 * hooks; bodies are read against the model's spec (predict-body.ts). During a
 * rollout the candidate either scores a copy of a sampled share of requests
 * after the answer has gone, when the champion is idle (shadow), or answers
 * its share of requests (canary); every scoring goes to the prediction log,
 * which the rollout guard and drift monitor read.
 */
export function buildServer(models: Pick<ServedModels, 'get' | 'serving' | 'replicaId'>, log: Pick<PredictionLog, 'record'>, tokens: string): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  answerErrorsWithReasons(app, 'serving');
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
    const served = models.get(model);
    // A name from the URL is a label only when it is a served model: any other would grow the metrics without bound.
    const counted = served ? model : UNKNOWN_MODEL;
    const answer = (code: number, body: unknown, version = 'none', role = 'none') => {
      requestsCounted(counted, version, role, String(code)).inc();
      return reply.code(code).send(body);
    };
    if (!authorised(req.headers.authorization)) return answer(401, { error: 'missing or wrong bearer token' });
    if (!served) return answer(404, { error: `no champion is served for model "${model}"`, models: Object.keys(models.serving()) });
    const { spec, champion, candidate, rollout } = served;
    const classes = labelClasses(spec);
    const F = spec.features.length;
    const read = readBody(req.body, spec);
    if (typeof read === 'string') return answer(400, { error: read });
    const { x, ids, times } = read;
    const n = x.length / F;
    const requestId = randomUUID();
    const score = async (v: LoadedVersion, role: 'champion' | 'canary') => {
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
    if (rollout?.phase === 'shadow' && candidate && Math.random() < spec.rollout.shadowSample) {
      const at = Date.now();
      const taken = candidate.shadow.offer(x, n, ({ scores, error, latencyMs }) => {
        const base = { at, model, version: candidate.version, role: 'shadow' as const, requestId, latencyMs, rows: n, features: x, ids, times };
        if (scores) return log.record({ ...base, ok: true, scores: loggedScores(scores, candidate.scorer.output.width) });
        log.record({ ...base, ok: false });
        logger.error({ err: error, model, version: candidate.version, role: 'shadow' }, 'scoring failed');
      });
      if (!taken) servingMetrics.shadowDropped.inc({ model });
    }
    latencyObserved(model, String(answered.version), role).observe((performance.now() - started) / 1000);
    reply.header('x-model-version', String(answered.version));
    reply.header('x-request-id', requestId);
    return answer(200, { model, version: answered.version, predictions: predictions(scores, classes), requestId }, String(answered.version), role);
  });
  return app;
}
