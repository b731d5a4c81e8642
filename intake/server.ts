import type { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bearerTokens } from '../config/bearer';
import { answerErrorsWithReasons } from '../config/http-errors';
import { registry } from '../config/metrics';
import type { IngestOutcome } from '../contracts/payloads';
import { modelNameSchema } from '../specs/model-spec';
import { readBatchBody, type BodyLimits } from './body-limits';

const paramsSchema = z.object({ model: modelNameSchema });
const querySchema = z.object({ source: z.string().min(1).max(200).optional() });

/**
 * The HTTP intake: `POST /v1/models/{model}/batches` with a CSV (text/csv) or
 * Parquet (application/vnd.apache.parquet) body. 200 with the batch when it is
 * accepted, 422 with every fault's line (or row) and column when it is
 * quarantined, 404 for an unknown model, 401 without a valid bearer token.
 */
export function buildIntakeServer(
  deps: { submit: (model: string, bytes: Buffer, source: string, actor: string) => Promise<IngestOutcome>; modelExists: (model: string) => Promise<boolean> },
  tokens: string,
  limits: BodyLimits,
): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: limits.maxBytes });
  for (const type of ['text/csv', 'application/vnd.apache.parquet', 'application/octet-stream']) {
    app.addContentTypeParser(type, (_req: FastifyRequest, body: Readable) => readBatchBody(body, type === 'text/csv', limits));
  }
  answerErrorsWithReasons(app, 'intake');
  const token = bearerTokens(tokens);
  // Tokens are never logged; the audit trail names which one was used by its position.
  const caller = (header: string | undefined) => {
    const n = token(header);
    return n === undefined ? undefined : n === 0 ? 'http' : `http-token-${n}`;
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  // The token is checked before the body is read: a caller without one costs no more than its headers.
  const actors = new WeakMap<FastifyRequest, string>();
  const authorised = async (req: FastifyRequest, reply: FastifyReply) => {
    const actor = caller(req.headers.authorization);
    if (!actor) return reply.code(401).send({ error: 'missing or wrong bearer token' });
    actors.set(req, actor);
  };
  app.post('/v1/models/:model/batches', { onRequest: authorised }, async (req, reply) => {
    const actor = actors.get(req)!;
    const params = paramsSchema.safeParse(req.params);
    if (!params.success) return reply.code(400).send({ error: `model: ${params.error.issues[0].message}` });
    const query = querySchema.safeParse(req.query);
    if (!query.success) return reply.code(400).send({ error: `source: ${query.error.issues[0].message}` });
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
      return reply.code(415).send({ error: 'send the batch as the body, with content-type text/csv or application/vnd.apache.parquet' });
    }
    const { model } = params.data;
    if (!(await deps.modelExists(model))) return reply.code(404).send({ error: `no model "${model}" is registered` });
    const result = await deps.submit(model, req.body, query.data.source ?? `http-${new Date().toISOString()}`, actor);
    return reply.code(result.status === 'accepted' ? 200 : 422).send(result);
  });
  return app;
}
