import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { logger } from './logger';

/** What the service reads of a refused body, at most, so that a client still sending it hears the reason. */
const DRAIN_BYTES = 64 << 20;
const DRAIN_MS = 10_000;

/**
 * One error answer for the factory's HTTP services: a refusal (a body over a
 * limit, malformed JSON, a content type nothing parses, a failed
 * authentication) answers its status with its reason; anything else is a 500
 * that names the log, never the internals.
 */
export function answerErrorsWithReasons(app: FastifyInstance, service: string): void {
  app.setErrorHandler(async (err: Error & { statusCode?: number }, req, reply) => {
    const { status, body } = errorAnswer(err, service, req.url);
    // A body refused before it was read (too large by its Content-Length, say) would otherwise be cut off by closing the
    // connection while the client still writes it, and the client would see a reset instead of this answer.
    await drain(req.raw);
    return reply.code(status).send(body);
  });
}

/** The answer to an error, for the handler above and for a route Fastify does not carry (serving/fast-predict.ts): a refusal's status and reason, or a logged 500. */
export function errorAnswer(err: Error & { statusCode?: number }, service: string, url: string | undefined): { status: number; body: { error: string } } {
  const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  if (status === 500) logger.error({ err, url }, `${service} request failed`);
  return { status, body: { error: status === 500 ? `internal error; see the ${service} log` : err.message } };
}

function drain(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let bytes = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > DRAIN_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MS);
    req.on('data', onData).once('end', done).once('error', done).once('close', done);
    req.resume();
  });
}
