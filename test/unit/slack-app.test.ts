import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActionsBlock, Button, KnownBlock, SectionBlock } from '@slack/web-api';
import { APPROVE_ACTION, LINK_ACTION_PREFIX, REJECT_ACTION, REJECT_REASON_CALLBACK, buildApprovalCard, buildRejectModal, threadText, type CardInput } from '../../approvals/card';
import { createSlackHandler, SLACK_EVENTS_PATH, type DecisionResult, type SlackDecision, type SlackUser } from '../../approvals/slack-app';
import type { GateAnswer } from '../../contracts/messages';
import type { VersionEvaluation } from '../../contracts/payloads';
import type { Criterion } from '../../ml/policy';
import { blockActionBody, blockProblems, signedSlackRequest, SlackStandIn, viewSubmissionBody } from '../integration/slack-stand-in';

const SECRET = 'test-signing-secret';
const TOKEN = 'xoxb-test-bot-token';
const TEAM = 'T0FACTORY';
const CHANNEL = 'C0MODELS';
const REF = { workflowId: 'fraud-pipeline-7', model: 'fraud', version: 7 };

const counted = (missing: number): GateAnswer => ({ votes: [], required: 2, missing });

describe('the Slack handler (Bolt over HTTP, against a stand-in Web API)', () => {
  let slack: SlackStandIn;
  let server: http.Server;
  let events: string;
  let decisions: [SlackUser, SlackDecision][];
  let answer: (req: SlackDecision) => Promise<DecisionResult>;
  let n = 0;

  beforeAll(async () => {
    slack = await new SlackStandIn({ token: TOKEN, team: TEAM }).start();
    const { listener } = createSlackHandler({
      signingSecret: SECRET,
      botToken: TOKEN,
      slackApiUrl: slack.apiUrl,
      onDecision: async (who, req) => {
        decisions.push([who, req]);
        return answer(req);
      },
    });
    // Mounted on a server of our own, as the approvals service does: only its path goes to Bolt.
    server = http.createServer((req, res) => {
      if (new URL(req.url ?? '/', 'http://localhost').pathname === SLACK_EVENTS_PATH) listener(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    events = `http://127.0.0.1:${(server.address() as AddressInfo).port}${SLACK_EVENTS_PATH}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await slack.stop();
  });

  beforeEach(() => {
    slack.reset();
    decisions = [];
    answer = async () => ({ ok: true, answer: counted(1) });
  });

  afterEach(() => jest.restoreAllMocks());

  const click = (actionId: string, opts: { value?: string; userId?: string } = {}) => {
    n += 1;
    return {
      id: `click-${n}`,
      trigger: `trigger-${n}`,
      body: blockActionBody({
        actionId,
        value: opts.value ?? JSON.stringify(REF),
        teamId: TEAM,
        userId: opts.userId ?? 'U0ALICE',
        channel: CHANNEL,
        ts: '1700000000.000100',
        responseUrl: slack.responseUrl(`click-${n}`),
        triggerId: `trigger-${n}`,
      }),
    };
  };
  const post = (signed: { headers: Record<string, string>; body: string }) => fetch(events, { method: 'POST', headers: signed.headers, body: signed.body });
  const until = async (what: string, ok: () => boolean, timeoutMs = 5_000) => {
    const end = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** Lets anything a request would have set off run, before asserting that nothing happened. */
  const settle = () => new Promise((r) => setTimeout(r, 300));

  test('a signed approve click is acked at once and reaches onDecision with who clicked and which card', async () => {
    let release!: () => void;
    answer = () => new Promise((resolve) => (release = () => resolve({ ok: true, answer: counted(1) })));
    const c = click(APPROVE_ACTION);
    const res = await post(signedSlackRequest(SECRET, c.body));
    expect(res.status).toBe(200);
    await until('onDecision', () => decisions.length === 1);
    expect(decisions[0]).toEqual([{ teamId: TEAM, userId: 'U0ALICE' }, { action: 'approve', ...REF }]);
    release();
    const reply = await slack.waitForResponse((r) => r.id === c.id);
    expect(reply.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(reply.body.text).toContain('1 more approval needed');
    // authorize is a fixed token: no auth.test, at start or per event.
    expect(slack.callsOf('auth.test')).toHaveLength(0);
  });

  test('a refused decision is explained privately to the clicker, with the reason', async () => {
    answer = async () => ({ ok: false, reason: '"carol" is not an approver of fraud (approvers: alice, bob)' });
    const c = click(APPROVE_ACTION, { userId: 'U0CAROL' });
    expect((await post(signedSlackRequest(SECRET, c.body))).status).toBe(200);
    const reply = await slack.waitForResponse((r) => r.id === c.id);
    expect(reply.body.response_type).toBe('ephemeral');
    expect(reply.body.text).toContain('did not count: "carol" is not an approver of fraud');
    expect(slack.callsOf('chat.update')).toHaveLength(0);
  });

  test('when the response_url fails, the answer goes out as chat.postEphemeral to the clicker in the channel', async () => {
    answer = async () => ({ ok: false, reason: 'alice already approved fraud v7' });
    slack.failNext('respond', 1, 503);
    expect((await post(signedSlackRequest(SECRET, click(APPROVE_ACTION).body))).status).toBe(200);
    const ephemeral = await slack.waitForCall('chat.postEphemeral');
    expect(ephemeral.body).toMatchObject({ channel: CHANNEL, user: 'U0ALICE' });
    expect(ephemeral.body.text).toContain('alice already approved fraud v7');
    expect(ephemeral.bearer).toBe(true);
    expect(JSON.stringify(ephemeral)).not.toContain(TOKEN);
  });

  test('onDecision failing tells the clicker to try again instead of leaving them guessing', async () => {
    answer = async () => {
      throw new Error('Temporal unavailable');
    };
    const c = click(APPROVE_ACTION);
    await post(signedSlackRequest(SECRET, c.body));
    const reply = await slack.waitForResponse((r) => r.id === c.id);
    expect(reply.body.text).toContain('could not be recorded');
    expect(reply.body.text).not.toContain('Temporal');
  });

  test('a button whose value is not a factory card reference is refused and never reaches onDecision', async () => {
    const c = click(APPROVE_ACTION, { value: JSON.stringify({ workflowId: 'x', model: 'fraud', version: 'seven' }) });
    expect((await post(signedSlackRequest(SECRET, c.body))).status).toBe(200);
    const reply = await slack.waitForResponse((r) => r.id === c.id);
    expect(reply.body.text).toContain('not a factory card');
    const junk = click(APPROVE_ACTION, { value: 'not json' });
    await post(signedSlackRequest(SECRET, junk.body));
    await slack.waitForResponse((r) => r.id === junk.id);
    expect(decisions).toHaveLength(0);
  });

  test('reject opens the reason modal with the trigger id; the submission reaches onDecision with the reason', async () => {
    answer = async (req) => ({ ok: true, answer: { votes: [], required: 2, missing: 0, decision: { decision: 'rejected', approver: 'bob', channel: 'slack', decidedAt: new Date().toISOString(), comment: req.comment } } });
    const c = click(REJECT_ACTION, { userId: 'U0BOB' });
    expect((await post(signedSlackRequest(SECRET, c.body))).status).toBe(200);
    const opened = await slack.waitForCall('views.open');
    expect(opened.body.trigger_id).toBe(c.trigger);
    const view = opened.body.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe(REJECT_REASON_CALLBACK);
    expect(JSON.parse(view.private_metadata)).toEqual({ ...REF, channel: CHANNEL });
    expect(decisions).toHaveLength(0);

    const submit = viewSubmissionBody({ callbackId: view.callback_id, privateMetadata: view.private_metadata, teamId: TEAM, userId: 'U0BOB', values: { reason: { reason: '  AUC dropped on the newest rows ' } } });
    const res = await post(signedSlackRequest(SECRET, submit));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    await until('onDecision', () => decisions.length === 1);
    expect(decisions[0]).toEqual([{ teamId: TEAM, userId: 'U0BOB' }, { action: 'reject', ...REF, comment: 'AUC dropped on the newest rows' }]);
    const told = await slack.waitForCall('chat.postEphemeral');
    expect(told.body).toMatchObject({ channel: CHANNEL, user: 'U0BOB' });
    expect(told.body.text).toContain('it is rejected');
  });

  test('a refused rejection from the modal is told in the card channel, or by direct message where the app cannot post there', async () => {
    answer = async () => ({ ok: false, reason: 'fraud v7 was already approved by alice' });
    const meta = JSON.stringify({ ...REF, channel: CHANNEL });
    const submit = () => viewSubmissionBody({ callbackId: REJECT_REASON_CALLBACK, privateMetadata: meta, teamId: TEAM, userId: 'U0BOB', values: { reason: { reason: `too slow ${++n}` } } });
    await post(signedSlackRequest(SECRET, submit()));
    expect((await slack.waitForCall('chat.postEphemeral')).body.text).toContain('already approved by alice');
    slack.reset();
    slack.failNext('chat.postEphemeral', 1, { error: 'not_in_channel' });
    await post(signedSlackRequest(SECRET, submit()));
    const dm = await slack.waitForCall('chat.postMessage');
    expect(dm.body).toMatchObject({ channel: 'U0BOB' });
    expect(dm.body.text).toContain('already approved by alice');
  });

  test('an empty reason keeps the modal open with an error and decides nothing', async () => {
    const submit = viewSubmissionBody({ callbackId: REJECT_REASON_CALLBACK, privateMetadata: JSON.stringify({ ...REF, channel: CHANNEL }), teamId: TEAM, userId: 'U0BOB', values: { reason: { reason: '   ' } } });
    const res = await post(signedSlackRequest(SECRET, submit));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ response_action: 'errors', errors: { reason: 'Say why you reject this candidate.' } });
    await settle();
    expect(decisions).toHaveLength(0);
  });

  test('a rate-limited views.open is retried after Retry-After, within the trigger id’s three seconds', async () => {
    slack.failNext('views.open', 1, 429);
    const started = Date.now();
    await post(signedSlackRequest(SECRET, click(REJECT_ACTION).body));
    await slack.waitForCall('views.open');
    expect(slack.callsOf('views.open').map((c) => c.status)).toEqual([429, 200]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test('a bad signature is answered 401 and reaches nothing', async () => {
    const c = click(APPROVE_ACTION);
    expect((await post(signedSlackRequest('not-the-secret', c.body))).status).toBe(401);
    const signed = signedSlackRequest(SECRET, c.body);
    expect((await post({ ...signed, body: signed.body.replace('U0ALICE', 'U0MALLORY') })).status).toBe(401);
    expect((await post({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: c.body })).status).toBe(401);
    await settle();
    expect(decisions).toHaveLength(0);
    expect(slack.calls).toHaveLength(0);
    expect(slack.responses).toHaveLength(0);
  });

  test('a request signed more than five minutes ago is answered 401 and reaches nothing', async () => {
    const stale = signedSlackRequest(SECRET, click(APPROVE_ACTION).body, { timestamp: Math.floor(Date.now() / 1000) - 5 * 60 - 1 });
    expect((await post(stale)).status).toBe(401);
    await settle();
    expect(decisions).toHaveLength(0);
    expect(slack.responses).toHaveLength(0);
  });

  test('the same signed request replayed is dropped within five minutes and refused with 401 after them', async () => {
    const c = click(APPROVE_ACTION);
    const signed = signedSlackRequest(SECRET, c.body);
    expect((await post(signed)).status).toBe(200);
    await until('onDecision', () => decisions.length === 1);
    await slack.waitForResponse((r) => r.id === c.id);

    expect((await post(signed)).status).toBe(200);
    await settle();
    expect(decisions).toHaveLength(1);
    expect(slack.responses).toHaveLength(1);

    const now = Date.now();
    jest.spyOn(Date, 'now').mockImplementation(() => now + 5 * 60_000 + 1_000);
    expect((await post(signed)).status).toBe(401);
    await settle();
    expect(decisions).toHaveLength(1);
  });

  test('a click on a link button (report, pipeline) is acknowledged, not left to time out', async () => {
    const started = Date.now();
    const res = await post(signedSlackRequest(SECRET, click(`${LINK_ACTION_PREFIX}report`, { value: '' }).body));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1_000);
    await settle();
    expect(decisions).toHaveLength(0);
    expect(slack.responses).toHaveLength(0);
  });

  test('the listener answers 404 to anything but a POST to its path', async () => {
    expect((await fetch(events)).status).toBe(404);
  });
});

const evaluation = (version: number, over: Partial<VersionEvaluation['metrics']> = {}): VersionEvaluation => ({
  version,
  metrics: { auc: 0.81, logLoss: 0.45, accuracy: 0.8, latencyP99Ms: 1.2, disparateImpactRatio: 0.75, demographicParityDiff: 0.1, trainSeconds: 12.3, modelBytes: 20480, ...over },
  quality: { auc: 0.81, logLoss: 0.45, accuracy: 0.8, precision: 0.7, recall: 0.6, f1: 0.65, brier: 0.15, ece: 0.02, rows: 1000, positives: 300 },
  fairness: [{ attribute: 'age bands', groups: [], demographicParityDiff: 0.1, equalOpportunityDiff: 0.05, disparateImpactRatio: 0.75, fourFifthsRule: false }],
  infra: { passed: true, reason: 'loads and scores in ONNX Runtime' },
});

const criterion = (name: string, passed: boolean, hard: boolean, reason = `${name} reason`): Criterion => ({ name, metric: 'auc', group: 'accuracy', kind: 'floor', hard, value: 0.8, limit: 0.7, passed, reason });

const input = (over: Partial<CardInput> = {}): CardInput => ({
  ...REF,
  championVersion: 6,
  candidate: evaluation(7),
  champion: evaluation(6, { auc: 0.8, latencyP99Ms: 1.0 }),
  verdict: { passed: true, criteria: [criterion('AUC ≥ 0.7', true, true), criterion('disparate impact ratio ≥ 0.8', false, false), criterion('latency p99 ≤ 1', false, true)], failures: [], warnings: [] },
  trigger: { reason: 'drift', requestedBy: 'factory', detail: 'PSI 0.31 on amount' },
  reportUrl: 'https://s3.example/reports/fraud-7.html?X-Amz-Signature=abc&X-Amz-Expires=604800',
  pipelineUrl: 'http://temporal.example:8233/namespaces/default/workflows/fraud-pipeline-7',
  policy: { model: 'fraud', version: 7, eligible: ['alice', 'bob', 'carol'], excluded: { dave: 'trained this version' }, required: 2 },
  votes: [],
  deadline: '2030-01-02T15:00:00.000Z',
  ...over,
});

const actionsOf = (blocks: KnownBlock[]) => blocks.filter((b): b is ActionsBlock => b.type === 'actions').flatMap((b) => b.elements as Button[]);
const textOf = (blocks: KnownBlock[]) => JSON.stringify(blocks);

describe('the approval card', () => {
  test('while undecided it has Approve (primary) and Reject (danger), each carrying the card reference', () => {
    const { blocks, text } = buildApprovalCard(input());
    const buttons = actionsOf(blocks);
    const approve = buttons.find((b) => b.action_id === APPROVE_ACTION)!;
    const reject = buttons.find((b) => b.action_id === REJECT_ACTION)!;
    expect(approve.style).toBe('primary');
    expect(reject.style).toBe('danger');
    expect(JSON.parse(approve.value!)).toEqual(REF);
    expect(JSON.parse(reject.value!)).toEqual(REF);
    expect(buttons.filter((b) => b.url).map((b) => b.url)).toEqual([input().reportUrl, input().pipelineUrl]);
    expect(text).toContain('fraud v7 awaits approval');
    expect(textOf(blocks)).toContain('<!date^1893596400^');
    expect(blockProblems(blocks)).toEqual([]);
  });

  test('once decided the buttons are gone and the outcome says who, how and when', () => {
    const { blocks, text } = buildApprovalCard(input({
      votes: [{ identity: 'alice', decision: 'approved', channel: 'slack', assertionId: 'a'.repeat(32), at: '2030-01-01T10:00:00.000Z' }, { identity: 'bob', decision: 'approved', channel: 'cli', assertionId: 'b'.repeat(32), at: '2030-01-01T11:00:00.000Z' }],
      outcome: { decision: 'approved', by: 'bob', channel: 'cli', at: '2030-01-01T11:00:00.000Z', comment: 'ship it' },
    }));
    const ids = actionsOf(blocks).map((b) => b.action_id);
    expect(ids).not.toContain(APPROVE_ACTION);
    expect(ids).not.toContain(REJECT_ACTION);
    const all = textOf(blocks);
    expect(all).toContain('*Approved* by *bob* via cli');
    expect(all).toContain('ship it');
    expect(all).not.toContain('Decide by');
    expect(text).toBe('fraud v7 was approved by bob (cli)');
  });

  test('criteria are marked pass ✅, advisory failure ⚠️, hard failure ❌, failures first', () => {
    const verdict = (buildApprovalCard(input()).blocks.filter((b): b is SectionBlock => b.type === 'section').map((b) => b.text?.text ?? '').find((t) => t.startsWith('*Policy')))!;
    const lines = verdict.split('\n');
    expect(lines[0]).toContain('✅ 1 passed · ⚠️ 1 warnings · ❌ 1 failed');
    expect(lines.slice(1)).toEqual([
      '❌ *latency p99 ≤ 1*: latency p99 ≤ 1 reason',
      '⚠️ *disparate impact ratio ≥ 0.8* (advisory): disparate impact ratio ≥ 0.8 reason',
      '✅ *AUC ≥ 0.7*: AUC ≥ 0.7 reason',
    ]);
  });

  test('it says how many approvals are missing, who may approve, who may not, and who voted', () => {
    const all = textOf(buildApprovalCard(input({ votes: [{ identity: 'alice', decision: 'approved', channel: 'slack', assertionId: 'a'.repeat(32), at: '2030-01-01T10:00:00.000Z' }] })).blocks);
    expect(all).toContain('*Approvals:* 1 of 2 — *1 more needed*');
    expect(all).toContain('*May approve:* alice, bob, carol');
    expect(all).toContain('dave (trained this version)');
    expect(all).toContain('✅ alice approved via slack');
  });

  test('it compares candidate with champion and flags bias', () => {
    const all = textOf(buildApprovalCard(input()).blocks);
    expect(all).toContain('*AUC*\\n0.8100 (champion 0.8000, better)');
    expect(all).toContain('*Latency p99*\\n1.20 ms (champion 1.00 ms, worse)');
    expect(all).toContain('*Training time*\\n12.3 s');
    expect(all).toContain('⚠️ *age bands*: disparate impact 0.750');
    expect(all).toContain('*Why now:* drift (requested by factory): PSI 0.31 on amount');
  });

  test('text from outside is escaped, so a trigger detail cannot ping the channel or forge a link', () => {
    const all = textOf(buildApprovalCard(input({ trigger: { reason: 'manual', requestedBy: '<!channel>', detail: '<https://evil.example|report> & more' } })).blocks);
    expect(all).not.toContain('<!channel>');
    expect(all).toContain('&lt;!channel&gt;');
    expect(all).toContain('&lt;https://evil.example|report&gt; &amp; more');
  });

  test('a policy with hundreds of long criteria stays within Slack’s limits and says what was left out', () => {
    const criteria = Array.from({ length: 300 }, (_, i) => criterion(`criterion ${i} ${'x'.repeat(80)}`, i % 3 !== 0, true, `why ${'&<>'.repeat(60)}`));
    const { blocks, text } = buildApprovalCard(input({
      verdict: { passed: false, criteria, failures: [], warnings: [] },
      policy: { model: 'fraud', version: 7, eligible: Array.from({ length: 500 }, (_, i) => `approver-${i}`), excluded: {}, required: 3 },
      trigger: { reason: 'manual', requestedBy: 'ops', detail: 'd'.repeat(5000) },
      note: 'n'.repeat(4000),
    }));
    expect(blockProblems(blocks)).toEqual([]);
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(text.length).toBeLessThanOrEqual(3000);
    const all = textOf(blocks);
    expect(all).toMatch(/…and \d+ more criteria in the report/);
    expect(all).toContain('and 480 more');
    // Cuts never leave half an entity behind.
    for (const b of blocks) if (b.type === 'section' && b.text) expect(b.text.text).not.toMatch(/&[a-z]*…/);
    // The failures (every third) come first and survive the cut.
    expect(all).toContain('❌ *criterion 0 ');
    expect(actionsOf(blocks).map((b) => b.action_id)).toContain(APPROVE_ACTION);
  });

  test('the reject modal asks for a required reason and carries the card and channel', () => {
    const view = buildRejectModal({ ...REF, channel: CHANNEL });
    expect(view.callback_id).toBe(REJECT_REASON_CALLBACK);
    expect(JSON.parse(view.private_metadata!)).toEqual({ ...REF, channel: CHANNEL });
    const inputs = view.blocks.filter((b) => b.type === 'input') as { optional?: boolean; element: { type: string } }[];
    expect(inputs).toHaveLength(1);
    expect(inputs[0].optional).toBeUndefined();
    expect(inputs[0].element.type).toBe('plain_text_input');
    expect(view.title.text.length).toBeLessThanOrEqual(24);
  });

  test('thread texts say who is still awaited and link the pipeline', () => {
    const text = threadText('reminder', { model: 'fraud', version: 7, waitingFor: ['bob', 'carol'], missing: 1, deadline: '2030-01-02T15:00:00.000Z', pipelineUrl: 'http://temporal.example/w?a=1&b=2' });
    expect(text).toContain('still needs 1 approval by <!date^1893596400^');
    expect(text).toContain('<http://temporal.example/w?a=1&amp;b=2|pipeline>');
    expect(text).toContain('Waiting for: bob, carol.');
    expect(threadText('rollback', { model: 'fraud', version: 7, reason: 'AUC fell to 0.61', restoredChampion: 6 })).toBe('↩️ fraud *v7* was rolled back: AUC fell to 0.61. v6 serves again.');
  });
});
