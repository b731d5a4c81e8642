import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { SigningKey, signingKeyFile } from '../../approvals/signing-key';
import { approveUpdate, pipelineStatusQuery } from '../../contracts/messages';
import type { PipelineOutcome } from '../../contracts/payloads';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { as, creditSpec, ctx, monthlyBatches, registerSpec, startService, startWorkers, testEnv, tokenOf, uniqueName } from './helpers';
import { auditSecrets } from './secrets-audit';
import { blockActionBody, signedSlackRequest, SlackStandIn, viewSubmissionBody } from './slack-stand-in';

const SIGNING_SECRET = crypto.randomBytes(16).toString('hex');
const BOT_TOKEN = `xoxb-test-${crypto.randomBytes(12).toString('hex')}`;
const TEAM = 'T0FACTORY';
const CHANNEL = 'C0MODELS';

/**
 * Decisions nobody can forge, against the real stack: the Bolt app in the
 * approvals service takes signed Slack requests (Slack's Web API is a local
 * stand-in, talked to by the real client), the CLI goes through the same
 * service with tokens, and the pipeline verifies every assertion itself.
 */
describe('approvals: Slack, tokens and signed decisions', () => {
  const slack = new SlackStandIn({ token: BOT_TOKEN });
  // A notify webhook that is down: telling people must give up on it, audited, and never hold up a gate.
  const brokenHook = http.createServer((_req, res) => res.writeHead(500).end());
  const slackEnv = () => ({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl });
  let workers: Awaited<ReturnType<typeof startWorkers>>;
  let approvals: Awaited<ReturnType<typeof startService>>;
  let batch: string;

  beforeAll(async () => {
    await slack.start();
    await new Promise<void>((r) => brokenHook.listen(0, '127.0.0.1', r));
    workers = await startWorkers({ ...slackEnv(), FACTORY_NOTIFY_URL: `http://127.0.0.1:${(brokenHook.address() as AddressInfo).port}/hook` });
    approvals = await startService('approvals/main.js', 'APPROVALS_PORT', slackEnv());
    batch = monthlyBatches()[0];
  });
  afterAll(async () => {
    await approvals?.stop();
    await workers?.stop();
    await slack.stop();
    brokenHook.close();
  });

  /** A pipeline at its gate for a fresh model whose spec `change` adjusts. */
  async function atGate(prefix: string, change: (a: Record<string, any>) => void = () => undefined, requestedBy = 'test') {
    const name = uniqueName(prefix);
    await registerSpec(creditSpec(name, (raw) => change(raw.approval)));
    return ctx(async (c) => {
      expect((await ingest(c, name, batch)).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy });
      const { workflowId, status } = await waitForStage(c, name, ['awaiting-approval'], 120_000);
      return { name, workflowId, version: status.version! };
    });
  }
  const click = (o: { actionId: string; value: unknown; user: string; ts: string; timestamp?: number }) => {
    const body = blockActionBody({ actionId: o.actionId, value: JSON.stringify(o.value), teamId: TEAM, userId: o.user, channel: CHANNEL, ts: o.ts, responseUrl: slack.responseUrl(`${o.user}-${o.ts}-${Date.now()}`), triggerId: `${Date.now()}.trigger` });
    return signedSlackRequest(SIGNING_SECRET, body, { timestamp: o.timestamp });
  };
  const send = (req: { headers: Record<string, string>; body: string }) => fetch(`${approvals.base}/slack/events`, { method: 'POST', headers: req.headers, body: req.body });
  const audits = (model: string) =>
    ctx(async (c) => (await c.db.query<{ actor: string; action: string; channel: string | null; outcome: string; details: Record<string, any> }>('SELECT actor, action, channel, outcome, details FROM audit_events WHERE model = $1 ORDER BY id', [model])).rows);

  test('the card is posted with its figures; refusals are ephemeral and audited; a signed click approves and the card updates', async () => {
    const { name, workflowId, version } = await atGate('credit-slack', (a) => (a.slack = { channel: CHANNEL }));
    const post = await slack.waitForCall('chat.postMessage', (c) => JSON.stringify(c.body).includes(name), 30_000);
    const card = JSON.stringify(post.body.blocks);
    for (const text of [name, `v${version}`, 'AUC', 'factory.approve', 'factory.reject', 'alice', encodeURIComponent(workflowId)]) expect(card).toContain(text);
    expect(post.bearer).toBe(true);
    const ts = String(post.answer!.ts);
    const value = { workflowId, model: name, version };

    // Bad signature, stale timestamp: 401, nothing reaches the factory.
    const forged = click({ actionId: 'factory.approve', value, user: 'U0ALICE', ts });
    expect((await send({ ...forged, headers: { ...forged.headers, 'x-slack-signature': `v0=${'0'.repeat(64)}` } })).status).toBe(401);
    expect((await send(click({ actionId: 'factory.approve', value, user: 'U0ALICE', ts, timestamp: Math.floor(Date.now() / 1000) - 600 }))).status).toBe(401);

    // Someone Slack knows but the directory does not; someone in the directory who is no approver.
    expect((await send(click({ actionId: 'factory.approve', value, user: 'U0NOBODY', ts }))).status).toBe(200);
    expect((await send(click({ actionId: 'factory.approve', value, user: 'U0MALLORY', ts }))).status).toBe(200);
    await slack.waitForResponse((r) => r.id.startsWith('U0NOBODY') && JSON.stringify(r.body).includes('not in the AI Factory directory'));
    await slack.waitForResponse((r) => r.id.startsWith('U0MALLORY') && JSON.stringify(r.body).includes('is not an approver'));
    expect((await ctx((c) => c.client.workflow.getHandle(workflowId).query(pipelineStatusQuery))).stage).toBe('awaiting-approval');

    const approve = click({ actionId: 'factory.approve', value, user: 'U0ALICE', ts });
    expect((await send(approve)).status).toBe(200);
    const outcome = await ctx((c) => c.client.workflow.getHandle(workflowId).result() as Promise<PipelineOutcome>);
    expect(outcome).toEqual({ status: 'promoted', version });
    const update = await slack.waitForCall('chat.update', (c) => c.body.ts === ts && JSON.stringify(c.body.blocks).includes('alice') && !JSON.stringify(c.body.blocks).includes('factory.approve'), 30_000);
    expect(JSON.stringify(update.body.blocks)).toMatch(/approved/i);
    // The rollout reports into the card's thread.
    await slack.waitForCall('chat.postMessage', (c) => c.body.thread_ts === ts && String(c.body.text).includes('completed its rollout'), 30_000);
    // The same signed request again: not a second vote.
    expect((await send(approve)).status).toBe(200);

    const trail = await audits(name);
    expect(trail).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: `slack:${TEAM}:U0NOBODY`, action: 'version.approve', channel: 'slack', outcome: 'denied' }),
        expect.objectContaining({ actor: 'mallory', action: 'version.approve', channel: 'slack', outcome: 'denied' }),
        expect.objectContaining({ actor: 'alice', action: 'approval.vote', channel: 'slack', outcome: 'ok' }),
        expect.objectContaining({ actor: 'alice', action: 'version.approve', channel: 'slack', outcome: 'ok' }),
      ]),
    );
    expect(trail.filter((e) => e.action === 'approval.vote')).toHaveLength(1);
    const vote = trail.find((e) => e.action === 'approval.vote')!;
    expect(vote.details.assertionId).toMatch(/^[0-9a-f]{32}$/);
  });

  test('reject opens a modal; its reason is the decision\'s comment', async () => {
    const { name, workflowId, version } = await atGate('credit-modal', (a) => (a.slack = { channel: CHANNEL }));
    const post = await slack.waitForCall('chat.postMessage', (c) => JSON.stringify(c.body).includes(name), 30_000);
    const ts = String(post.answer!.ts);
    expect((await send(click({ actionId: 'factory.reject', value: { workflowId, model: name, version }, user: 'U0BOB', ts }))).status).toBe(200);
    const modal = await slack.waitForCall('views.open', (c) => JSON.stringify(c.body.view).includes(workflowId));
    const view = modal.body.view as { private_metadata: string; callback_id: string };
    const submit = viewSubmissionBody({ callbackId: view.callback_id, privateMetadata: view.private_metadata, teamId: TEAM, userId: 'U0BOB', values: { reason: { reason: 'bias flags unexplained' } } });
    expect((await send(signedSlackRequest(SIGNING_SECRET, submit))).status).toBe(200);
    const outcome = await ctx((c) => c.client.workflow.getHandle(workflowId).result() as Promise<PipelineOutcome>);
    expect(outcome).toEqual({ status: 'rejected', version, by: 'bob', reason: 'bias flags unexplained' });
  });

  test('two distinct approvals, segregation of duties, and forged, expired, unsigned and replayed assertions, all refused and audited by the workflow', async () => {
    // Slack down for this card: the gate still works and the CLI decides.
    slack.failNext('chat.postMessage', 50, 503);
    const { name, workflowId, version } = await atGate('credit-four-eyes', (a) => Object.assign(a, { required: 2, independent: true, slack: { channel: CHANNEL } }), 'carol');
    slack.reset();
    await ctx(async (c) => {
      await expect(decide(as(c, 'carol'), 'approve', name, String(version))).rejects.toThrow(/"carol" may not approve .* they requested this training \(approval.independent\)/);
      const first = await decide(as(c, 'alice'), 'approve', name, String(version), { comment: 'first pair of eyes' });
      expect(first.answer.decision).toBeUndefined();
      expect(first.answer).toMatchObject({ required: 2, missing: 1, votes: [expect.objectContaining({ identity: 'alice', decision: 'approved', channel: 'cli' })] });
      await expect(decide(as(c, 'alice'), 'approve', name, String(version))).rejects.toThrow('"alice" already approved');

      const handle = c.client.workflow.getHandle(workflowId);
      const refusedWith = async (assertion: unknown) => {
        const err = await handle.executeUpdate(approveUpdate, { args: [{ version, assertion: assertion as never, approver: 'bob' }] }).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        return (err as WorkflowUpdateFailedError).cause?.message ?? '';
      };
      const realKey = SigningKey.loadOrCreate(signingKeyFile(testEnv()));
      const otherKey = SigningKey.loadOrCreate(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'forger-')), 'key.pem'));
      const claims = { workflowId, model: name, version, action: 'approve' as const, identity: 'bob', channel: 'cli' as const };
      const forged = otherKey.sign(claims);
      expect(await refusedWith(undefined)).toContain('no valid signed assertion');
      expect(await refusedWith(forged)).toContain(`signed with key ${otherKey.keyId}, which is not a key of this factory's approvals service`);
      expect(await refusedWith({ ...forged, claims: { ...forged.claims, keyId: realKey.keyId } })).toContain('signature does not verify');
      const signed = realKey.sign(claims);
      expect(await refusedWith({ ...signed, claims: { ...signed.claims, identity: 'carol' } })).toContain('signature does not verify');
      expect(await refusedWith(realKey.sign(claims, Date.now() - 10 * 60_000))).toContain('expired');
      expect(await refusedWith(realKey.sign({ ...claims, workflowId: 'someone-elses-pipeline' }))).toContain('is for workflow someone-elses-pipeline');
      // A valid assertion counts once: carol's is refused by policy, and then again as already used.
      const carols = realKey.sign({ ...claims, identity: 'carol' });
      expect(await refusedWith(carols)).toContain('"carol" may not approve');
      expect(await refusedWith(carols)).toContain('was already used');

      const second = await decide(as(c, 'bob'), 'approve', name, String(version), { comment: 'second pair of eyes' });
      expect(second.answer.decision).toMatchObject({ decision: 'approved', approver: 'bob' });
      expect(second.outcome).toEqual({ status: 'promoted', version });
    });
    const trail = await audits(name);
    const denied = trail.filter((e) => e.outcome === 'denied' && e.action === 'version.approve');
    // One by the service (carol before signing, alice's second vote), the rest by the workflow itself (via "update").
    expect(denied.filter((e) => e.details.via === 'update').map((e) => e.actor)).toEqual([...Array(6).fill('unverified'), 'carol', 'unverified']);
    expect(denied.filter((e) => e.details.via === undefined).map((e) => e.actor)).toEqual(['carol', 'alice']);
    expect(trail.filter((e) => e.action === 'approval.vote').map((e) => e.actor)).toEqual(['alice', 'bob']);
    const approval = await ctx(async (c) => (await c.db.query('SELECT a.decided_by, cardinality(a.assertion_ids) AS n FROM approvals a JOIN model_versions v ON v.id = a.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1', [name])).rows[0]);
    expect(approval).toEqual({ decided_by: 'bob', n: 2 });
  });

  test('an unanswered candidate gets a reminder, an escalation and then expires, each told in Slack and audited', async () => {
    const { name, workflowId, version } = await atGate('credit-remind', (a) => Object.assign(a, { timeout: '4s', onTimeout: 'escalate', slack: { channel: CHANNEL, escalationChannel: 'C0ESCALATE' } }));
    const outcome = await ctx((c) => c.client.workflow.getHandle(workflowId).result() as Promise<PipelineOutcome>);
    expect(outcome).toMatchObject({ status: 'rejected', version, by: 'factory', reason: 'no decision within 4s after escalation' });
    const card = slack.callsOf('chat.postMessage').find((c) => JSON.stringify(c.body).includes(name) && !c.body.thread_ts)!;
    const thread = slack.callsOf('chat.postMessage').filter((c) => c.body.thread_ts === card.answer!.ts).map((c) => String(c.body.text));
    expect(thread.some((t) => /reminder/i.test(t))).toBe(true);
    expect(thread.some((t) => /escalat/i.test(t))).toBe(true);
    expect(thread.some((t) => /expired/i.test(t))).toBe(true);
    expect(slack.callsOf('chat.postMessage').some((c) => c.body.channel === 'C0ESCALATE' && String(c.body.text).includes(name))).toBe(true);
    const actions = (await audits(name)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['approval.request', 'approval.card', 'approval.remind', 'approval.escalate', 'approval.expire', 'version.reject']));
    const failed = (await audits(name)).filter((e) => e.action === 'notification.failed');
    expect(failed.map((e) => e.details.event)).toEqual(['approval.remind', 'approval.escalate', 'approval.expire']);
    expect(failed[0].details).toMatchObject({ way: 'webhook', error: 'notification webhook answered 500 (3 attempts)' });
  });

  test('the CLI refuses a wrong token and a token that is not the --as person\'s', async () => {
    await ctx(async (c) => {
      const wrong = { ...c, env: { ...c.env, FACTORY_TOKEN: tokenOf('alice').replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')) } };
      await expect(decide(wrong, 'approve', 'credit-default', '1')).rejects.toThrow('the token is not valid');
      await expect(decide(as(c, 'bob'), 'approve', 'credit-default', '1', { as: 'alice' })).rejects.toThrow("--as alice does not match your token, which is bob's");
    });
  });

  test('no log file and no workflow history holds the signing key, the Slack secrets or a token', async () => {
    console.log(await auditSecrets({ SIGNING_SECRET, BOT_TOKEN }));
  });
});
