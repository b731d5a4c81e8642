import { buildApprovalCard, threadText, type CardInput } from '../approvals/card';
import type { GatePolicy, Vote } from '../approvals/policy';
import { logger } from '../config/logger';
import type { Decision, RolloutPhase, Trigger, VersionEvaluation } from '../contracts/payloads';
import { audit, findModel } from '../db/models';
import type { Verdict } from '../ml/policy';
import type { ActivityDeps } from './deps';

type GateNotice = 'reminder' | 'escalation' | 'expiry';

const WEBHOOK_ATTEMPTS = 3;

/** How long a pre-signed report link on a card stays valid: S3's maximum, the card outlives most gates. */
const REPORT_LINK_SECONDS = 7 * 24 * 3600;

/**
 * Chat activities (control pool): the approval card in the model's Slack
 * channel, kept up to date after every vote, and the gate's and rollout's news
 * in the card's thread (and the notify webhook, where one is set). All best
 * effort: Slack down or rate-limiting is retried a few times and then given up
 * on, with an audit row, never blocking a pipeline; the CLI still decides.
 */
export function createChatActivities({ db, store, slack, notifyUrl, workflowUrl }: ActivityDeps) {
  async function cardInput(input: { model: string; version: number; workflowId: string; policy: GatePolicy; deadline: string; votes: Vote[]; decision?: Decision }): Promise<CardInput> {
    const r = await db.query<{ metrics: VersionEvaluation; champion_metrics: VersionEvaluation | null; verdict: Verdict; report_key: string; trigger: Trigger }>(
      `SELECT e.metrics, e.champion_metrics, e.verdict, e.report_key, t.trigger
         FROM model_versions v JOIN models m ON m.id = v.model_id JOIN training_runs t ON t.id = v.training_run_id
         JOIN LATERAL (SELECT * FROM evaluations WHERE model_version_id = v.id ORDER BY id DESC LIMIT 1) e ON true
        WHERE m.name = $1 AND v.version = $2`,
      [input.model, input.version],
    );
    const e = r.rows[0];
    const d = input.decision;
    return {
      workflowId: input.workflowId,
      model: input.model,
      version: input.version,
      championVersion: e.champion_metrics?.version,
      candidate: e.metrics,
      champion: e.champion_metrics ?? undefined,
      verdict: e.verdict,
      trigger: e.trigger,
      reportUrl: await store.presign(e.report_key, REPORT_LINK_SECONDS),
      pipelineUrl: workflowUrl(input.workflowId),
      policy: input.policy,
      votes: input.votes,
      deadline: input.deadline,
      outcome: d && { decision: d.decision, by: d.approver, channel: d.channel, at: d.decidedAt, comment: d.comment },
    };
  }

  const cardOf = async (model: string, version: number) =>
    (
      await db.query<{ channel: string; ts: string }>(
        'SELECT c.channel, c.ts FROM approval_cards c JOIN model_versions v ON v.id = c.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2',
        [model, version],
      )
    ).rows[0];

  /** Posts into the card's thread (and the escalation channel, if given); says whether Slack took it. */
  async function tellThread(model: string, version: number, text: string, alsoTo?: string): Promise<void> {
    const card = slack && (await cardOf(model, version));
    if (slack && card) await slack.chat.postMessage({ channel: card.channel, thread_ts: card.ts, text });
    if (slack && alsoTo) await slack.chat.postMessage({ channel: alsoTo, text });
  }

  /** The notify webhook (Slack-compatible JSON), where one is configured: a few tries, then the caller gives up on it. */
  async function webhook(text: string): Promise<void> {
    if (!notifyUrl) return;
    for (let attempt = 1; ; attempt++) {
      const problem = await fetch(notifyUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }), signal: AbortSignal.timeout(5_000) }).then(
        (res) => (res.ok ? undefined : `notification webhook answered ${res.status}`),
        (err: Error) => `notification webhook unreachable: ${err.message}`,
      );
      if (!problem) return;
      if (attempt >= WEBHOOK_ATTEMPTS) throw new Error(`${problem} (${attempt} attempts)`);
      await new Promise((r) => setTimeout(r, 1000 * 2 ** (attempt - 1)));
    }
  }

  /** Runs each way of telling people; one that fails is logged and audited, and the others still run. */
  async function tellEveryone(event: { model: string; version: number; action: string; text: string }, ways: Record<string, () => Promise<void>>): Promise<void> {
    for (const [way, send] of Object.entries(ways)) {
      await send().catch(async (err: Error) => {
        logger.warn({ model: event.model, version: event.version, way, error: err.message }, 'notification failed');
        await audit(db, { actor: 'factory', action: 'notification.failed', model: event.model, version: event.version, outcome: 'error', details: { way, event: event.action, error: err.message } });
      });
    }
  }

  return {
    /** Posts the card once per candidate (a retry finds it posted); undefined where Slack or the model's channel is not configured. */
    async postApprovalCard(input: { model: string; version: number; workflowId: string; policy: GatePolicy; deadline: string }): Promise<{ channel: string; ts: string; permalink?: string } | undefined> {
      const { spec } = await findModel(db, input.model);
      const channel = spec.approval.slack?.channel;
      if (!slack || !channel) return undefined;
      const existing = await cardOf(input.model, input.version);
      if (existing) return existing;
      const card = buildApprovalCard(await cardInput({ ...input, votes: [] }));
      const posted = await slack.chat.postMessage({ channel, text: card.text, blocks: card.blocks });
      await db.query(
        `INSERT INTO approval_cards (model_version_id, channel, ts)
         SELECT v.id, $3, $4 FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2 ON CONFLICT DO NOTHING`,
        [input.model, input.version, posted.channel!, posted.ts!],
      );
      const link = await slack.chat.getPermalink({ channel: posted.channel!, message_ts: posted.ts! }).catch(() => undefined);
      await audit(db, { actor: 'factory', action: 'approval.card', model: input.model, version: input.version, channel: 'slack', outcome: 'ok', details: { slackChannel: posted.channel, ts: posted.ts } });
      return { channel: posted.channel!, ts: posted.ts!, permalink: link?.permalink };
    },

    /** Redraws the card in place: who voted, what is still needed, then the outcome. */
    async updateApprovalCard(input: { model: string; version: number; workflowId: string; policy: GatePolicy; deadline: string; votes: Vote[]; decision?: Decision }): Promise<void> {
      const card = slack && (await cardOf(input.model, input.version));
      if (!slack || !card) return;
      const built = buildApprovalCard(await cardInput(input));
      await slack.chat.update({ channel: card.channel, ts: card.ts, text: built.text, blocks: built.blocks });
    },

    /** A reminder at half the timeout, an escalation, or the expiry: in the card's thread, the escalation channel and the webhook, audited. */
    async notifyGate(input: { model: string; version: number; workflowId: string; kind: GateNotice; waitingFor: string[]; missing: number; deadline: string }): Promise<void> {
      const { spec } = await findModel(db, input.model);
      const text = threadText(input.kind, { model: input.model, version: input.version, waitingFor: input.waitingFor, missing: input.missing, deadline: input.deadline, pipelineUrl: workflowUrl(input.workflowId) });
      const action = { reminder: 'approval.remind', escalation: 'approval.escalate', expiry: 'approval.expire' }[input.kind];
      const event = { model: input.model, version: input.version, action, text };
      await tellEveryone(event, {
        slack: () => tellThread(input.model, input.version, text, input.kind === 'escalation' ? spec.approval.slack?.escalationChannel : undefined),
        webhook: () => webhook(text),
      });
      await audit(db, { actor: 'factory', action, model: input.model, version: input.version, outcome: 'ok', details: { waitingFor: input.waitingFor, missing: input.missing, deadline: input.deadline, workflowId: input.workflowId } });
    },

    /** Tells people of a rollback: the log, the notify webhook (bounded tries, then an audit row; never a stuck rollout). */
    async notify(input: { model: string; version: number; text: string }): Promise<void> {
      logger.warn({ model: input.model, version: input.version }, input.text);
      await tellEveryone({ ...input, action: 'rollout.rollback' }, { webhook: () => webhook(input.text) });
    },

    /** A rollout's phase or rollback, in the thread of the card that approved it. */
    async postRolloutEvent(input: { model: string; version: number; phase: RolloutPhase; canaryPercent?: number; note?: string; reason?: string; restoredChampion?: number }): Promise<void> {
      const text =
        input.phase === 'rolled_back'
          ? threadText('rollback', { model: input.model, version: input.version, reason: input.reason ?? 'rolled back', restoredChampion: input.restoredChampion })
          : threadText('rollout', { model: input.model, version: input.version, phase: input.phase, canaryPercent: input.canaryPercent, note: input.note });
      await tellEveryone({ model: input.model, version: input.version, action: 'rollout.event', text }, { slack: () => tellThread(input.model, input.version, text) });
    },
  };
}

export type ChatActivities = ReturnType<typeof createChatActivities>;
