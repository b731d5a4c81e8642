import { connections, loadEnv } from '../config/env';
import { logger } from '../config/logger';
import { runService } from '../config/service';
import { connectClient } from '../config/temporal-connection';
import { audit } from '../db/models';
import { createDbPool } from '../db/pool';
import { findBySlack } from '../people/directory';
import { decide, type DecisionDeps } from './decisions';
import { buildApprovalsServer } from './server';
import { SigningKey, signingKeyFile } from './signing-key';
import { createSlackHandler, SLACK_EVENTS_PATH } from './slack-app';

/**
 * The approvals service: the only process that holds the approval signing key.
 * It authenticates people (a verified Slack request, or a CLI token), checks
 * the model's policy, and sends each decision to its workflow with a signed
 * assertion that the workflow verifies before the decision counts.
 */
async function main(): Promise<() => Promise<void>> {
  const env = loadEnv();
  const c = connections(env);
  const db = createDbPool(c.databaseUrl);
  const key = SigningKey.loadOrCreate(signingKeyFile(env));
  const { client, connection } = await connectClient(env);
  const deps: DecisionDeps = { db, client, key };

  const slack =
    env.SLACK_SIGNING_SECRET && env.SLACK_BOT_TOKEN
      ? createSlackHandler({
          signingSecret: env.SLACK_SIGNING_SECRET,
          botToken: env.SLACK_BOT_TOKEN,
          slackApiUrl: env.SLACK_API_URL,
          onDecision: async (who, req) => {
            const person = await findBySlack(db, who.teamId, who.userId);
            if (!person) {
              const reason = `your Slack account (${who.teamId}/${who.userId}) is not in the AI Factory directory; an admin adds you with: factory people add <id> --name "<name>" --slack ${who.teamId}:${who.userId}`;
              await audit(db, { actor: `slack:${who.teamId}:${who.userId}`, action: `version.${req.action}`, model: req.model, version: req.version, channel: 'slack', outcome: 'denied', details: { reason } });
              return { ok: false, reason };
            }
            const outcome = await decide(deps, person, 'slack', req);
            return outcome.ok ? outcome : { ok: false, reason: outcome.reason };
          },
        }).listener
      : undefined;

  const app = buildApprovalsServer(deps, slack);
  await app.listen({ port: env.APPROVALS_PORT, host: env.APPROVALS_HOST });
  logger.info({ port: env.APPROVALS_PORT, host: env.APPROVALS_HOST, keyId: key.keyId, slack: slack ? SLACK_EVENTS_PATH : 'not configured' }, 'approvals service started');
  return async () => {
    await app.close();
    await connection.close();
    await db.end();
  };
}

runService('approvals', main);
