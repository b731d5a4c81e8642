import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, HTTPReceiver, type BlockButtonAction, type RespondFn } from '@slack/bolt';
import { slackLogger } from './slack-client';
import type { RetryOptions, WebClient } from '@slack/web-api';
import { z } from 'zod';
import { logger } from '../config/logger';
import type { GateAnswer } from '../contracts/messages';
import { modelNameSchema } from '../specs/model-spec';
import { APPROVE_ACTION, LINK_ACTION_PREFIX, REASON_BLOCK, REASON_INPUT, REASON_MAX, REJECT_ACTION, REJECT_REASON_CALLBACK, buildRejectModal, escapeMrkdwn, type CardRef } from './card';

/**
 * The Slack side of the approvals service: Bolt in HTTP mode, verifying every
 * request's signature, turning Approve / Reject clicks and the reject reason
 * into `onDecision` calls, and telling the clicker privately when a decision
 * did not count. The card itself is redrawn by the workflow, not here.
 */

/** Where Slack posts interactions; the service's own HTTP server routes this path to `listener`. */
export const SLACK_EVENTS_PATH = '/slack/events';

export interface SlackUser {
  teamId: string;
  userId: string;
}

export interface SlackDecision extends CardRef {
  action: 'approve' | 'reject';
  comment?: string;
}

export type DecisionResult = { ok: true; answer: GateAnswer } | { ok: false; reason: string };

export interface SlackHandlerOptions {
  signingSecret: string;
  botToken: string;
  /** Slack's Web API base URL; a stand-in's in tests. */
  slackApiUrl?: string;
  onDecision: (who: SlackUser, req: SlackDecision) => Promise<DecisionResult>;
}

const log = logger.child({ component: 'slack' });

const cardRefSchema = z.strictObject({
  workflowId: z.string().min(1).max(500),
  model: modelNameSchema,
  version: z.number().int().min(1),
});
const rejectMetaSchema = z.strictObject({ ...cardRefSchema.shape, channel: z.string().min(1).max(50) });

/**
 * A views.open trigger id lives three seconds and a private answer is stale
 * within a minute, so a few quick retries (Retry-After is honoured) rather than
 * the client's default of ten over half an hour.
 */
const RETRIES: RetryOptions = { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 1_000 };
const CALL_TIMEOUT_MS = 5_000;

/**
 * Bolt checks a signature's age (five minutes) but not whether it was seen
 * before; within that window a captured request is dropped here. Kept until
 * the signature is past Bolt's window, by its own timestamp or by our clock.
 */
const REPLAY_WINDOW_MS = 6 * 60_000;

function replayGuard() {
  const seen = new Map<string, number>();
  return (signature: string, timestampSec: number): boolean => {
    const now = Date.now();
    for (const [sig, until] of seen) if (until <= now) seen.delete(sig);
    if (seen.has(signature)) return false;
    seen.set(signature, Math.max(now, timestampSec * 1000) + REPLAY_WINDOW_MS);
    return true;
  };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function parseJson<T>(schema: z.ZodType<T>, text: string | undefined): { ok: true; data: T } | { ok: false; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '');
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? { ok: true, data: parsed.data } : { ok: false, problem: parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ') };
}

/** The person as Slack knows them: their own workspace, which differs from the card's in a shared channel. */
function slackUser(body: { user: { id: string; team_id?: string }; team: { id: string } | null }): SlackUser | undefined {
  const teamId = body.user.team_id ?? body.team?.id;
  return teamId ? { teamId, userId: body.user.id } : undefined;
}

const NOT_A_CARD = 'This card is not a factory card (or not one this service can read), so nothing was recorded.';

interface Recipient {
  userId: string;
  channel?: string;
  respond?: RespondFn;
}

/**
 * Tells one person privately: through the interaction's response_url where
 * there is one (no scope or channel membership needed), else an ephemeral
 * message in the channel, else a direct message from the app.
 */
async function tell(client: WebClient, to: Recipient, text: string): Promise<void> {
  if (to.respond) {
    try {
      await to.respond({ response_type: 'ephemeral', replace_original: false, text });
      return;
    } catch (err) {
      log.warn({ slackUser: to.userId, error: errorText(err) }, 'answering through the response_url failed');
    }
  }
  if (to.channel) {
    try {
      await client.chat.postEphemeral({ channel: to.channel, user: to.userId, text });
      return;
    } catch (err) {
      log.warn({ slackUser: to.userId, slackChannel: to.channel, error: errorText(err) }, 'ephemeral message failed');
    }
  }
  try {
    await client.chat.postMessage({ channel: to.userId, text });
  } catch (err) {
    log.error({ slackUser: to.userId, error: errorText(err) }, 'could not tell the Slack user');
  }
}

function confirmation(req: SlackDecision, answer: GateAnswer): string {
  const subject = `${escapeMrkdwn(req.model)} *v${req.version}*`;
  const verb = req.action === 'approve' ? 'approval' : 'rejection';
  if (answer.decision) return `Your ${verb} of ${subject} counted: it is ${answer.decision.decision}.`;
  return `Your ${verb} of ${subject} counted; ${answer.missing} more approval${answer.missing === 1 ? '' : 's'} needed.`;
}

export function createSlackHandler(opts: SlackHandlerOptions): { listener: (req: IncomingMessage, res: ServerResponse) => void; app: App } {
  const bolt = slackLogger();
  const fresh = replayGuard();
  const receiver = new HTTPReceiver({
    signingSecret: opts.signingSecret,
    endpoints: SLACK_EVENTS_PATH,
    logger: bolt,
    // Only requests that passed Bolt's signature check reach the middleware that reads this.
    customPropertiesExtractor: (req) => ({ slackSignature: String(req.headers['x-slack-signature'] ?? ''), slackTimestamp: Number(req.headers['x-slack-request-timestamp']) }),
  });
  const app = new App({
    receiver,
    // A fixed bot token through `authorize`: Bolt then never calls auth.test, neither at construction nor before each event.
    authorize: async () => ({ botToken: opts.botToken }),
    logger: bolt,
    convoStore: false,
    clientOptions: { slackApiUrl: opts.slackApiUrl, retryConfig: RETRIES, timeout: CALL_TIMEOUT_MS },
  });

  app.use(async (args) => {
    const { slackSignature, slackTimestamp } = args.context as { slackSignature?: string; slackTimestamp?: number };
    if (slackSignature && fresh(slackSignature, slackTimestamp ?? 0)) return args.next();
    log.warn({ type: (args.body as { type?: string }).type }, 'a Slack request was seen before: dropped as a replay');
    await (args as { ack?: () => Promise<void> }).ack?.();
  });

  async function decide(client: WebClient, who: SlackUser, req: SlackDecision, to: Recipient): Promise<void> {
    const fields = { slackTeam: who.teamId, slackUser: who.userId, action: req.action, workflowId: req.workflowId, model: req.model, version: req.version };
    const noun = req.action === 'approve' ? 'approval' : 'rejection';
    const subject = `${escapeMrkdwn(req.model)} *v${req.version}*`;
    let result: DecisionResult;
    try {
      result = await opts.onDecision(who, req);
    } catch (err) {
      log.error({ ...fields, error: errorText(err) }, 'recording a Slack decision failed');
      await tell(client, to, `Your ${noun} of ${subject} could not be recorded: the approvals service failed. Try again, or use \`factory ${req.action}\`.`);
      return;
    }
    if (!result.ok) {
      log.info({ ...fields, reason: result.reason }, 'Slack decision refused');
      await tell(client, to, `Your ${noun} of ${subject} did not count: ${escapeMrkdwn(result.reason)}`);
      return;
    }
    log.info({ ...fields, decision: result.answer.decision?.decision, missing: result.answer.missing }, 'Slack decision recorded');
    await tell(client, to, confirmation(req, result.answer));
  }

  /** The clicker and the card behind a button, or undefined once they have been told the card is unreadable. */
  async function readClick(client: WebClient, body: BlockButtonAction, value: string | undefined, respond: RespondFn | undefined) {
    const to: Recipient = { userId: body.user.id, channel: body.channel?.id, respond };
    const who = slackUser(body);
    const ref = parseJson(cardRefSchema, value);
    if (!ref.ok || !who || !to.channel) {
      log.warn({ slackUser: body.user.id, action: body.actions[0]?.action_id, problem: ref.ok ? 'no team or channel in the click' : ref.problem }, 'a click that is not on a factory card');
      await tell(client, to, NOT_A_CARD);
      return undefined;
    }
    return { who, ref: ref.data, to, channel: to.channel };
  }

  app.action<BlockButtonAction>(APPROVE_ACTION, async ({ ack, body, action, client, respond }) => {
    await ack();
    const click = await readClick(client, body, action.value, respond);
    if (click) await decide(client, click.who, { action: 'approve', ...click.ref }, click.to);
  });

  app.action<BlockButtonAction>(REJECT_ACTION, async ({ ack, body, action, client, respond }) => {
    await ack();
    const click = await readClick(client, body, action.value, respond);
    if (!click) return;
    try {
      await client.views.open({ trigger_id: body.trigger_id, view: buildRejectModal({ ...click.ref, channel: click.channel }) });
    } catch (err) {
      log.warn({ slackUser: click.who.userId, workflowId: click.ref.workflowId, error: errorText(err) }, 'opening the reject form failed');
      await tell(client, click.to, `Could not open the rejection form for ${escapeMrkdwn(click.ref.model)} *v${click.ref.version}*. Try again, or use \`factory reject\`.`);
    }
  });

  app.action(new RegExp(`^${LINK_ACTION_PREFIX.replace(/\./g, '\\.')}`), async ({ ack }) => {
    await ack();
  });

  app.view(REJECT_REASON_CALLBACK, async ({ ack, body, view, client }) => {
    const reason = view.state.values[REASON_BLOCK]?.[REASON_INPUT]?.value?.trim() ?? '';
    if (!reason || reason.length > REASON_MAX) {
      await ack({ response_action: 'errors', errors: { [REASON_BLOCK]: reason ? `At most ${REASON_MAX} characters.` : 'Say why you reject this candidate.' } });
      return;
    }
    await ack();
    const meta = parseJson(rejectMetaSchema, view.private_metadata);
    const who = slackUser(body);
    if (!meta.ok || !who) {
      log.warn({ slackUser: body.user.id, problem: meta.ok ? 'no team in the submission' : meta.problem }, 'a reject form that is not from a factory card');
      await tell(client, { userId: body.user.id }, NOT_A_CARD);
      return;
    }
    const { channel, ...ref } = meta.data;
    await decide(client, who, { action: 'reject', ...ref, comment: reason }, { userId: who.userId, channel });
  });

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      receiver.requestListener(req, res);
    } catch (err) {
      // Bolt throws, rather than answers, for anything but a POST to its path.
      log.debug({ method: req.method, error: errorText(err) }, 'not a Slack request');
      if (!res.headersSent) res.writeHead(404).end();
    }
  };
  return { listener, app };
}
