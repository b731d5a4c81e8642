import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { deviceIdSchema } from '../edge/manifest';
import { audit } from '../db/models';
import { answerErrorsWithReasons } from '../config/http-errors';
import { authenticate, AuthenticationError, type Person } from '../people/directory';
import { modelNameSchema } from '../specs/model-spec';
import { decide, steer, type DecisionDeps, type Outcome } from './decisions';
import { SLACK_EVENTS_PATH } from './slack-app';

const MAX_CONCURRENT_AUTH = 8;

const target = { model: modelNameSchema, version: z.number().int().min(1) };
const decisionBody = z.object({ ...target, action: z.enum(['approve', 'reject']), comment: z.string().max(2000).optional() }).strict();
const steeringBody = z
  .object({ ...target, action: z.enum(['pause', 'resume', 'abort']), reason: z.string().max(2000).optional(), group: deviceIdSchema.optional().describe('an edge rollout to that device group') })
  .strict();

/**
 * The approvals service's HTTP face: the CLI's decisions and steering
 * (`Authorization: Bearer <personal token>`), and Slack's interactivity
 * requests, handed untouched to the Bolt app so it verifies Slack's signature
 * over the raw body. A missing or wrong token is 401, and audited.
 */
export function buildApprovalsServer(deps: DecisionDeps, slack?: (req: IncomingMessage, res: ServerResponse) => void): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    serverFactory: (handler) =>
      http.createServer((req, res) => {
        if (req.url?.split('?')[0] === SLACK_EVENTS_PATH) {
          if (slack) return slack(req, res);
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Slack is not configured on this approvals service (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN)' }));
          return;
        }
        handler(req, res);
      }),
  });

  // scrypt costs 16 MiB a check: a bound on checks at once keeps a flood of made-up tokens from exhausting memory.
  let checking = 0;
  const caller = async (header: string | undefined, action: string): Promise<Person | undefined> => {
    const token = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
    if (checking >= MAX_CONCURRENT_AUTH) throw Object.assign(new Error('too many authentications at once; retry in a moment'), { statusCode: 503 });
    checking++;
    try {
      if (!token) throw new AuthenticationError('missing "Authorization: Bearer <token>" (factory people token <you>)');
      return await authenticate(deps.db, token);
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      await audit(deps.db, { actor: err.personId ?? 'unverified', action, channel: 'cli', outcome: 'denied', details: { reason: err.message } });
      throw Object.assign(err, { statusCode: 401 });
    } finally {
      checking--;
    }
  };
  const send = <T>(reply: { code(n: number): { send(b: unknown): unknown } }, o: Outcome<T>) => (o.ok ? reply.code(200).send(o.answer) : reply.code(o.status).send({ error: o.reason }));
  const bad = (issues: z.core.$ZodIssue[]) => ({ error: issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });

  answerErrorsWithReasons(app, 'approvals service');
  app.get('/healthz', async () => ({ status: 'ok', keyId: deps.key.keyId, slack: slack !== undefined }));
  app.get('/v1/whoami', async (req) => caller(req.headers.authorization, 'auth.whoami'));
  app.post('/v1/decisions', async (req, reply) => {
    const person = (await caller(req.headers.authorization, 'version.decide'))!;
    const body = decisionBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send(bad(body.error.issues));
    return send(reply, await decide(deps, person, 'cli', body.data));
  });
  app.post('/v1/rollouts', async (req, reply) => {
    const person = (await caller(req.headers.authorization, 'rollout.steer'))!;
    const body = steeringBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send(bad(body.error.issues));
    return send(reply, await steer(deps, person, 'cli', body.data));
  });
  return app;
}
