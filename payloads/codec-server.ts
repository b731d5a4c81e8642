import Fastify, { type FastifyInstance } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { bearerTokens } from '../config/bearer';
import { answerErrorsWithReasons } from '../config/http-errors';

/** Payloads as the Web UI and `temporal` send them to a codec endpoint: proto3 JSON, bytes in base64. */
const jsonPayloadSchema = z.object({
  metadata: z.record(z.string(), z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')).default({}),
  data: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').default(''),
});
const bodySchema = z.object({ payloads: z.array(jsonPayloadSchema).max(10_000) });
type JsonPayload = z.infer<typeof jsonPayloadSchema>;

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data, 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

/**
 * Temporal's remote codec protocol (`POST /decode`, `POST /encode`) over the
 * factory's payload codec, for the Web UI to show encrypted payloads. A browser
 * may call it only from the Web UI's origin (CORS, checked on every request, not
 * only by the browser); anything else needs a bearer token.
 */
export function buildCodecServer(codec: PayloadCodec, opts: { uiOrigins: string[]; tokens: string }): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  answerErrorsWithReasons(app, 'codec');
  const token = bearerTokens(opts.tokens);
  const allowed = (origin: string | undefined, authorization: string | undefined) =>
    (origin !== undefined && opts.uiOrigins.includes(origin)) || (authorization !== undefined && (token(authorization) ?? 0) > 0);

  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin && opts.uiOrigins.includes(origin)) {
      reply.header('access-control-allow-origin', origin).header('vary', 'origin');
      if (req.method === 'OPTIONS') {
        return reply.code(204).header('access-control-allow-methods', 'POST').header('access-control-allow-headers', 'content-type, x-namespace, authorization').header('access-control-max-age', '600').send();
      }
    }
    if (req.url === '/healthz') return;
    if (!allowed(origin, req.headers.authorization)) return reply.code(403).send({ error: 'the codec endpoint answers the Web UI\'s origin, or a caller with a bearer token (CODEC_TOKENS)' });
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  for (const way of ['decode', 'encode'] as const) {
    app.post(`/${way}`, async (req, reply) => {
      const body = bodySchema.safeParse(req.body);
      if (!body.success) return reply.code(400).send({ error: `${body.error.issues[0].path.join('.') || 'body'}: ${body.error.issues[0].message}` });
      try {
        return { payloads: (await codec[way](body.data.payloads.map(fromJson))).map(toJson) };
      } catch (err) {
        // A payload under a key this endpoint lacks, or altered ciphertext: the caller's problem to see, not a crash.
        return reply.code(422).send({ error: `cannot ${way}: ${(err as Error).message}` });
      }
    });
  }
  return app;
}
