import type { ActionsBlock, Button, ContextBlock, HeaderBlock, KnownBlock, ModalView, SectionBlock } from '@slack/web-api';
import type { GatePolicy, Vote } from './policy';
import type { CriterionName } from '../ml/criteria';
import type { Criterion, Verdict } from '../ml/policy';
import type { RolloutPhase, Trigger, VersionEvaluation } from '../contracts/payloads';

/**
 * The Slack approval card and the texts around it. Pure, with type-only
 * imports: the workflow's activities build the card again after every vote,
 * and the approvals service reads the same action ids back from clicks.
 */

export const APPROVE_ACTION = 'factory.approve';
export const REJECT_ACTION = 'factory.reject';
export const REJECT_REASON_CALLBACK = 'factory.reject_reason';
/** Link buttons still send Slack an interaction, which the service must acknowledge. */
export const LINK_ACTION_PREFIX = 'factory.link.';
export const REASON_BLOCK = 'reason';
export const REASON_INPUT = 'reason';

/** What a card's buttons carry back: enough to find the pipeline, nothing that grants anything. */
export interface CardRef {
  workflowId: string;
  model: string;
  version: number;
}

/** The reject modal has no message behind it, so it carries the channel its answer goes to. */
export interface RejectMeta extends CardRef {
  channel: string;
}

export interface CardOutcome {
  decision: 'approved' | 'rejected';
  by: string;
  channel: string;
  at: string;
  comment?: string;
}

export interface CardInput {
  workflowId: string;
  model: string;
  version: number;
  championVersion?: number;
  candidate: VersionEvaluation;
  champion?: VersionEvaluation;
  verdict: Verdict;
  trigger: Trigger;
  reportUrl?: string;
  pipelineUrl: string;
  policy: GatePolicy;
  votes: Vote[];
  deadline: string;
  outcome?: CardOutcome;
  note?: string;
}

// Slack's limits (https://docs.slack.dev/reference/block-kit/blocks): past them chat.postMessage answers invalid_blocks.
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  buttonText: 75,
  buttonValue: 2000,
  url: 3000,
  modalTitle: 24,
  privateMetadata: 3000,
} as const;

const CRITERIA_SECTIONS = 4;
const CRITERION_LINE = 300;
const NAMES_SHOWN = 20;
const COMMENT_SHOWN = 300;
/** The approvals service caps an assertion's comment at this, so the modal does too. */
export const REASON_MAX = 2000;

/** Slack's mrkdwn treats only these three as markup; escaped, a name or comment cannot ping @channel or forge a link. */
export const escapeMrkdwn = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Cuts mrkdwn to `max` characters without splitting an emoji, an escaped entity or a <link|date> token. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  cut = cut.replace(/&[a-z#0-9]*$/i, '');
  if (cut.lastIndexOf('<') > cut.lastIndexOf('>')) cut = cut.slice(0, cut.lastIndexOf('<'));
  return `${cut}…`;
}

/** A time every reader sees in their own time zone, with the ISO time as the fallback. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeMrkdwn(iso);
  const fallback = new Date(ms).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

const plain = (text: string, max: number) => ({ type: 'plain_text' as const, text: clip(text, max), emoji: true });
const mrkdwn = (text: string, max: number = SLACK_LIMITS.sectionText) => ({ type: 'mrkdwn' as const, text: clip(text, max) });
const section = (text: string): SectionBlock => ({ type: 'section', text: mrkdwn(text) });
const context = (...texts: string[]): ContextBlock => ({ type: 'context', elements: texts.slice(0, SLACK_LIMITS.contextElements).map((t) => mrkdwn(t)) });
const list = (names: string[]) =>
  names.length === 0 ? 'nobody' : names.slice(0, NAMES_SHOWN).map(escapeMrkdwn).join(', ') + (names.length > NAMES_SHOWN ? ` and ${names.length - NAMES_SHOWN} more` : '');

type Figure = { label: string; better: 'higher' | 'lower'; format: (v: number) => string };
const fixed = (digits: number, unit = '') => (v: number) => `${v.toFixed(digits)}${unit}`;
const bytes = (v: number) => (v >= 1 << 20 ? `${(v / (1 << 20)).toFixed(1)} MB` : `${(v / 1024).toFixed(1)} KB`);
const seconds = (v: number) => (v >= 120 ? `${(v / 60).toFixed(1)} min` : `${v.toFixed(1)} s`);

/**
 * What an approver compares at a glance, in this order, at most Slack's ten
 * fields; the report has the rest. A figure the task does not measure (AUC of
 * a forecast) is not shown.
 */
const FIGURES: Partial<Record<CriterionName, Figure>> = {
  auc: { label: 'AUC', better: 'higher', format: fixed(4) },
  rmse: { label: 'RMSE', better: 'lower', format: fixed(3) },
  mae: { label: 'MAE', better: 'lower', format: fixed(3) },
  r2: { label: 'R²', better: 'higher', format: fixed(4) },
  logLoss: { label: 'Log loss', better: 'lower', format: fixed(4) },
  accuracy: { label: 'Accuracy', better: 'higher', format: fixed(4) },
  macroF1: { label: 'Macro-F1', better: 'higher', format: fixed(4) },
  maeGap: { label: 'MAE gap (worst)', better: 'lower', format: fixed(3) },
  accuracyGap: { label: 'Accuracy gap (worst)', better: 'lower', format: fixed(3) },
  latencyP99Ms: { label: 'Latency p99', better: 'lower', format: fixed(2, ' ms') },
  disparateImpactRatio: { label: 'Disparate impact (worst)', better: 'higher', format: fixed(3) },
  demographicParityDiff: { label: 'Parity gap (worst)', better: 'lower', format: fixed(3) },
  trainSeconds: { label: 'Training time', better: 'lower', format: seconds },
  trainCpuSeconds: { label: 'Training CPU', better: 'lower', format: seconds },
  trainPeakRssMb: { label: 'Training peak memory', better: 'lower', format: fixed(0, ' MB') },
  modelBytes: { label: 'Model size', better: 'lower', format: bytes },
};

function figureFields(candidate: VersionEvaluation, champion?: VersionEvaluation) {
  const fields: { type: 'mrkdwn'; text: string }[] = [];
  for (const [metric, f] of Object.entries(FIGURES) as [CriterionName, Figure][]) {
    const value = candidate.metrics[metric];
    const base = champion?.metrics[metric];
    if (!Number.isFinite(value) && !Number.isFinite(base)) continue;
    const shown = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? f.format(v) : 'n/a');
    let line = `*${f.label}*\n${shown(value)}`;
    if (champion) {
      line += ` (champion ${shown(base)}`;
      if (value !== undefined && base !== undefined && Number.isFinite(value) && Number.isFinite(base) && value !== base) {
        line += `, ${(value > base) === (f.better === 'higher') ? 'better' : 'worse'}`;
      }
      line += ')';
    }
    fields.push(mrkdwn(line, SLACK_LIMITS.fieldText));
  }
  return fields.slice(0, SLACK_LIMITS.fields);
}

function biasText(candidate: VersionEvaluation): string | undefined {
  if (candidate.fairness.length === 0) return undefined;
  const lines = candidate.fairness.map((r) => {
    const name = `*${escapeMrkdwn(r.attribute)}*`;
    if (!Number.isFinite(r.disparateImpactRatio)) return `⚪ ${name}: not measurable (too few rows in the groups)`;
    const gaps = `disparate impact ${r.disparateImpactRatio.toFixed(3)}, parity gap ${Number.isFinite(r.demographicParityDiff) ? r.demographicParityDiff.toFixed(3) : 'n/a'}`;
    return r.fourFifthsRule ? `✅ ${name}: ${gaps}` : `⚠️ ${name}: ${gaps}, below the four-fifths rule`;
  });
  const flagged = candidate.fairness.filter((r) => Number.isFinite(r.disparateImpactRatio) && !r.fourFifthsRule).length;
  return clip(`*Bias:* ${flagged ? `${flagged} flag${flagged > 1 ? 's' : ''}` : 'no flags'}\n${lines.join('\n')}`, SLACK_LIMITS.sectionText);
}

export type Mark = 'pass' | 'warn' | 'fail';
/** A failed advisory criterion warns; a failed hard one blocks. */
export const markOf = (c: Criterion): Mark => (c.passed ? 'pass' : c.hard ? 'fail' : 'warn');
const MARK: Record<Mark, string> = { pass: '✅', warn: '⚠️', fail: '❌' };
const SEVERITY: Record<Mark, number> = { fail: 0, warn: 1, pass: 2 };

/** Failures first, so what is cut when a policy has many criteria is what passed. */
function verdictBlocks(verdict: Verdict): SectionBlock[] {
  const marks = verdict.criteria.map(markOf);
  const count = (m: Mark) => marks.filter((x) => x === m).length;
  const head = `*Policy: ${verdict.passed ? 'passed' : 'failed'}* (${MARK.pass} ${count('pass')} passed · ${MARK.warn} ${count('warn')} warnings · ${MARK.fail} ${count('fail')} failed)`;
  const lines = verdict.criteria
    .map((c, i) => ({ c, mark: marks[i], i }))
    .sort((a, b) => SEVERITY[a.mark] - SEVERITY[b.mark] || a.i - b.i)
    .map(({ c, mark }) => clip(`${MARK[mark]} *${escapeMrkdwn(c.name)}*${c.hard ? '' : ' (advisory)'}: ${escapeMrkdwn(c.reason)}`, CRITERION_LINE));
  const texts = [head];
  let shown = 0;
  for (const line of lines) {
    const last = texts[texts.length - 1];
    if (last.length + 1 + line.length <= SLACK_LIMITS.sectionText) texts[texts.length - 1] = `${last}\n${line}`;
    else if (texts.length < CRITERIA_SECTIONS) texts.push(line);
    else break;
    shown++;
  }
  if (shown < lines.length) {
    const more = `…and ${lines.length - shown} more criteria in the report`;
    const last = texts[texts.length - 1];
    texts[texts.length - 1] = last.length + 1 + more.length <= SLACK_LIMITS.sectionText ? `${last}\n${more}` : `${clip(last, SLACK_LIMITS.sectionText - more.length - 1)}\n${more}`;
  }
  return texts.map(section);
}

function approversText(policy: GatePolicy, votes: Vote[], decided: boolean): string {
  const approvals = votes.filter((v) => v.decision === 'approved').length;
  const missing = Math.max(0, policy.required - approvals);
  const lines = [
    `*Approvals:* ${approvals} of ${policy.required}${decided ? '' : missing ? ` — *${missing} more needed*` : ''}`,
    `*May approve:* ${list(policy.eligible)}`,
  ];
  const excluded = Object.entries(policy.excluded);
  if (excluded.length) {
    lines.push(`*May not approve:* ${excluded.slice(0, NAMES_SHOWN).map(([who, why]) => `${escapeMrkdwn(who)} (${escapeMrkdwn(why)})`).join(', ')}${excluded.length > NAMES_SHOWN ? ` and ${excluded.length - NAMES_SHOWN} more` : ''}`);
  }
  for (const v of votes.slice(0, NAMES_SHOWN)) {
    const comment = v.comment ? `: “${escapeMrkdwn(clip(v.comment, COMMENT_SHOWN))}”` : '';
    lines.push(`${v.decision === 'approved' ? MARK.pass : MARK.fail} ${escapeMrkdwn(v.identity)} ${v.decision} via ${v.channel}, ${slackDate(v.at)}${comment}`);
  }
  if (votes.length > NAMES_SHOWN) lines.push(`…and ${votes.length - NAMES_SHOWN} more votes`);
  return lines.join('\n');
}

function outcomeText(o: CardOutcome): string {
  const comment = o.comment ? `: “${escapeMrkdwn(clip(o.comment, COMMENT_SHOWN))}”` : '';
  return `${o.decision === 'approved' ? MARK.pass : MARK.fail} *${o.decision === 'approved' ? 'Approved' : 'Rejected'}* by *${escapeMrkdwn(o.by)}* via ${escapeMrkdwn(o.channel)}, ${slackDate(o.at)}${comment}`;
}

function triggerText(t: Trigger): string {
  const detail = t.detail ? `: ${escapeMrkdwn(t.detail)}` : '';
  return `*Why now:* ${t.reason} (requested by ${escapeMrkdwn(t.requestedBy)})${detail}`;
}

const link = (label: string, url: string | undefined, id: string): Button[] =>
  url && url.length <= SLACK_LIMITS.url ? [{ type: 'button', text: plain(label, SLACK_LIMITS.buttonText), url, action_id: `${LINK_ACTION_PREFIX}${id}` }] : [];

function buttons(input: CardInput): Button[] {
  const value = JSON.stringify({ workflowId: input.workflowId, model: input.model, version: input.version } satisfies CardRef);
  if (value.length > SLACK_LIMITS.buttonValue) throw new Error(`the card's button value is ${value.length} characters, over Slack's ${SLACK_LIMITS.buttonValue}`);
  const subject = `${input.model} v${input.version}`;
  return [
    {
      type: 'button',
      action_id: APPROVE_ACTION,
      style: 'primary',
      text: plain('Approve', SLACK_LIMITS.buttonText),
      value,
      confirm: {
        title: plain('Approve this candidate?', 100),
        text: plain(`Your approval of ${subject} is signed with your identity and counts toward promoting it.`, 300),
        confirm: plain('Approve', 30),
        deny: plain('Cancel', 30),
      },
    },
    { type: 'button', action_id: REJECT_ACTION, style: 'danger', text: plain('Reject', SLACK_LIMITS.buttonText), value },
  ];
}

const stateOf = (input: CardInput) => (input.outcome ? input.outcome.decision : 'awaiting approval');

export function buildApprovalCard(input: CardInput): { text: string; blocks: KnownBlock[] } {
  const { candidate, champion, verdict, policy, votes, outcome } = input;
  const subject = `${escapeMrkdwn(input.model)} *v${input.version}*`;
  const against = champion ? `against champion *v${input.championVersion ?? champion.version}*` : 'first version: no champion to compare with';
  const header: HeaderBlock = { type: 'header', text: plain(`${input.model} v${input.version}: ${stateOf(input)}`, SLACK_LIMITS.headerText) };
  const blocks: KnownBlock[] = [header, section(`Candidate ${subject} ${against}\n${triggerText(input.trigger)}`)];
  const fields = figureFields(candidate, champion);
  if (fields.length) blocks.push({ type: 'section', fields });
  const bias = biasText(candidate);
  if (bias) blocks.push(section(bias));
  blocks.push({ type: 'divider' }, ...verdictBlocks(verdict), { type: 'divider' });
  blocks.push(section(approversText(policy, votes, outcome !== undefined)));
  if (outcome) blocks.push(section(outcomeText(outcome)));
  else blocks.push(context(`⏰ Decide by ${slackDate(input.deadline)}`));
  if (input.note) blocks.push(context(`ℹ️ ${escapeMrkdwn(input.note)}`));
  const tooLong = [['report', input.reportUrl], ['pipeline', input.pipelineUrl]].filter(([, u]) => u !== undefined && u.length > SLACK_LIMITS.url).map(([what]) => what);
  if (tooLong.length) blocks.push(context(`The ${tooLong.join(' and ')} link is longer than Slack allows, so it is not shown.`));
  const actions: ActionsBlock = {
    type: 'actions',
    block_id: 'factory.actions',
    elements: [...(outcome ? [] : buttons(input)), ...link('Evaluation report', input.reportUrl, 'report'), ...link('Pipeline in Temporal', input.pipelineUrl, 'pipeline')],
  };
  if (actions.elements.length) blocks.push(actions);
  return { text: fallbackText(input), blocks };
}

/** The notification and screen-reader text: plain, with what a person needs to act. */
function fallbackText(input: CardInput): string {
  const subject = `${input.model} v${input.version}`;
  if (input.outcome) return clip(`${subject} was ${input.outcome.decision} by ${input.outcome.by} (${input.outcome.channel})`, SLACK_LIMITS.sectionText);
  const approvals = input.votes.filter((v) => v.decision === 'approved').length;
  const missing = Math.max(0, input.policy.required - approvals);
  return clip(`${subject} awaits approval: policy ${input.verdict.passed ? 'passed' : 'failed'}, ${missing} of ${input.policy.required} approvals missing, decide by ${input.deadline}`, SLACK_LIMITS.sectionText);
}

export function buildRejectModal(meta: RejectMeta): ModalView {
  const privateMetadata = JSON.stringify({ workflowId: meta.workflowId, model: meta.model, version: meta.version, channel: meta.channel } satisfies RejectMeta);
  if (privateMetadata.length > SLACK_LIMITS.privateMetadata) throw new Error(`the reject modal's metadata is ${privateMetadata.length} characters, over Slack's ${SLACK_LIMITS.privateMetadata}`);
  return {
    type: 'modal',
    callback_id: REJECT_REASON_CALLBACK,
    private_metadata: privateMetadata,
    title: plain('Reject candidate', SLACK_LIMITS.modalTitle),
    submit: plain('Reject', SLACK_LIMITS.modalTitle),
    close: plain('Cancel', SLACK_LIMITS.modalTitle),
    blocks: [
      section(`You are rejecting ${escapeMrkdwn(meta.model)} *v${meta.version}*: the pipeline stops and nothing is promoted. Your reason goes into the audit trail.`),
      {
        type: 'input',
        block_id: REASON_BLOCK,
        label: plain('Why do you reject it?', 2000),
        element: { type: 'plain_text_input', action_id: REASON_INPUT, multiline: true, min_length: 1, max_length: REASON_MAX },
      },
    ],
  };
}

interface GateNotice {
  model: string;
  version: number;
  waitingFor: string[];
  missing: number;
  deadline: string;
  pipelineUrl?: string;
}

interface ThreadDetails {
  reminder: GateNotice;
  escalation: GateNotice;
  expiry: GateNotice;
  rollout: { model: string; version: number; phase: RolloutPhase; canaryPercent?: number; note?: string };
  rollback: { model: string; version: number; reason: string; restoredChampion?: number };
}
export type ThreadKind = keyof ThreadDetails;

const PHASE: Record<RolloutPhase, string> = {
  checking: 'is being checked on the serving replicas',
  shadow: 'is in shadow: it scores live traffic without answering it',
  canary: 'is in canary',
  full: 'serves all traffic',
  completed: 'completed its rollout',
  rolled_back: 'was rolled back',
};

/** A mrkdwn link where the URL cannot break out of the <url|label> token, else the URL as text. */
const linkTo = (url: string, label: string) => (/^[^\s<>|]+$/.test(url) ? `<${url.replace(/&/g, '&amp;')}|${label}>` : escapeMrkdwn(url));
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The mrkdwn message for the card's thread (and the notify webhook). */
export function threadText<K extends ThreadKind>(kind: K, details: ThreadDetails[K]): string {
  const subject = `${escapeMrkdwn(details.model)} *v${details.version}*`;
  const gate = details as GateNotice;
  const pipeline = gate.pipelineUrl ? ` (${linkTo(gate.pipelineUrl, 'pipeline')})` : '';
  let text: string;
  switch (kind) {
    case 'reminder':
      text = `⏳ Reminder: ${subject} still needs ${plural(gate.missing, 'approval')} by ${slackDate(gate.deadline)}${pipeline}. Waiting for: ${list(gate.waitingFor)}.`;
      break;
    case 'escalation':
      text = `🚨 Escalated: nobody decided on ${subject} in time; ${plural(gate.missing, 'approval')} still needed, new deadline ${slackDate(gate.deadline)}${pipeline}. Waiting for: ${list(gate.waitingFor)}.`;
      break;
    case 'expiry':
      text = `⌛ Expired: no decision on ${subject} in time, so it was rejected${pipeline}. Did not vote: ${list(gate.waitingFor)}.`;
      break;
    case 'rollout': {
      const r = details as ThreadDetails['rollout'];
      const canary = r.phase === 'canary' && r.canaryPercent !== undefined ? ` at ${r.canaryPercent}% of traffic` : '';
      text = `🚀 ${subject} ${PHASE[r.phase]}${canary}${r.note ? `: ${escapeMrkdwn(r.note)}` : ''}`;
      break;
    }
    default: {
      const r = details as ThreadDetails['rollback'];
      text = `↩️ ${subject} was rolled back: ${escapeMrkdwn(r.reason)}${r.restoredChampion !== undefined ? `. v${r.restoredChampion} serves again.` : ''}`;
    }
  }
  return clip(text, SLACK_LIMITS.sectionText);
}
