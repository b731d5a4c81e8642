import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { bearerTokens } from '../config/bearer';
import { answerErrorsWithReasons } from '../config/http-errors';
import { registry } from '../config/metrics';
import { fastPredict } from './fast-predict';
import type { PredictionLog } from './prediction-log';
import { predictor } from './predictor';
import type { ServedModels } from './served-models';

const BODY_LIMIT = 1 << 20;

/**
 * The prediction service: Fastify for its hooks and its error answers, with
 * the prediction route also carried on Node's own http in front of it
 * (serving/fast-predict.ts); both call one predict (serving/predictor.ts).
 * Bodies are read against the model's spec (predict-body.ts).
 */
export function buildServer(models: Pick<ServedModels, 'get' | 'serving' | 'replicaId'>, log: Pick<PredictionLog, 'record'>, tokens: string): FastifyInstance {
  const token = bearerTokens(tokens);
  const authorised = (header: string | undefined) => token(header) !== undefined;
  const predict = predictor(models, log, authorised);
  let closing = false;
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    serverFactory: (handler, fastifyOptions) => {
      const options = fastifyOptions as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number };
      const fast = fastPredict(predict, BODY_LIMIT, 'serving', () => closing);
      const server = http.createServer((req, res) => fast(req, res) || handler(req, res));
      // What Fastify sets on a server it makes itself.
      server.keepAliveTimeout = options.keepAliveTimeout;
      server.requestTimeout = options.requestTimeout;
      server.setTimeout(options.connectionTimeout);
      return server;
    },
  });
  // A closing service answers through Fastify, which tells clients to go (503, Connection: close) so the close can finish.
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  answerErrorsWithReasons(app, 'serving');

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
    const a = await predict(req.params.model, req.headers.authorization, req.body);
    if (a.headers) reply.headers(a.headers);
    return reply.code(a.code).send(a.body);
  });
  return app;
}
