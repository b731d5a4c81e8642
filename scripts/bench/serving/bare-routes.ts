/**
 * The floor of our HTTP stack (issue 15): a bare Fastify route that takes the
 * same request as the prediction route (path, JSON body, parsed) and answers
 * a body of the same shape, with nothing else — no auth, no validation, no
 * model, no log, no metrics. Run as a process of its own by throughput.ts;
 * prints its port once it listens.
 */
import Fastify from 'fastify';
import { runMain } from '../kit/cli';

async function main(): Promise<void> {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const requestId = '00000000-0000-4000-8000-000000000000';
  app.post<{ Params: { model: string }; Body: { instances: unknown[] } }>('/v1/models/:model/predict', async (req, reply) => {
    reply.header('x-model-version', '1');
    reply.header('x-request-id', requestId);
    return { model: req.params.model, version: 1, predictions: req.body.instances.map(() => 0.5), requestId };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await app.close();
}

runMain(main);
