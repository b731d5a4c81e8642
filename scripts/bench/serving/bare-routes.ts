/**
 * The floors of an HTTP stack (issue 15): a bare route that takes the same
 * request as the prediction route (path, JSON body, parsed) and answers a body
 * of the same shape, with nothing else — no auth, no validation, no model, no
 * log, no metrics. `fastify` is the floor of the framework the service is
 * built on; `node` is Node's own http, the floor under it. Run as a process of
 * its own by throughput.ts; prints its port once it listens.
 *
 *   node bare-routes.js fastify|node
 */
import http from 'node:http';
import Fastify from 'fastify';
import { runMain } from '../kit/cli';

const requestId = '00000000-0000-4000-8000-000000000000';
const answer = (model: string, instances: unknown[]) => ({ model, version: 1, predictions: instances.map(() => 0.5), requestId });

async function fastify(): Promise<http.Server> {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  app.post<{ Params: { model: string }; Body: { instances: unknown[] } }>('/v1/models/:model/predict', async (req, reply) => {
    reply.header('x-model-version', '1');
    reply.header('x-request-id', requestId);
    return answer(req.params.model, req.body.instances);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server;
}

async function node(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { instances: unknown[] };
      const model = (req.url ?? '').split('/')[3];
      const json = JSON.stringify(answer(model, body.instances));
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'x-model-version': '1', 'x-request-id': requestId });
      res.end(json);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function main(): Promise<void> {
  const stack = process.argv[2];
  if (stack !== 'fastify' && stack !== 'node') throw new Error(`usage: bare-routes.js fastify|node (got ${stack})`);
  const server = await (stack === 'fastify' ? fastify() : node());
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await new Promise((resolve) => server.close(resolve));
}

runMain(main);
