import { stepText, type EdgeRolloutStatus, type PipelineStatus, type RolloutStatus } from '../contracts/messages';

/** Activity and child failures wrap the error that says what went wrong; that is the one worth recording. */
export const causeOf = (err: unknown): string => (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));

const f = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));

/** The figures a pipeline's Current Details compare, in this order, where the task measures them. */
const DETAIL_METRICS = ['auc', 'rmse', 'mae', 'r2', 'logLoss', 'macroF1', 'ece', 'latencyP99Ms', 'disparateImpactRatio', 'maeGap', 'accuracyGap'] as const;

/** The pipeline's "current details" in the Web UI: where it is and what a person can do now. */
export function pipelineDetails(s: PipelineStatus): string {
  const lines = [`**${s.model}** · stage **${s.stage}** · trigger ${s.trigger.reason} by ${s.trigger.requestedBy}`];
  if (s.trigger.detail) lines.push(`why: ${s.trigger.detail}`);
  if (s.energyWindow) {
    const w = s.energyWindow;
    lines.push(
      `energy: training ${s.stage === 'waiting-for-energy' ? 'waits until' : 'started at'} ${w.startAt} (deadline ${s.trigger.deadline}): ${w.explanation}` +
        (w.averagePricePerMWh !== null ? ` · avg ${w.averagePricePerMWh.toFixed(1)}/MWh` : '') +
        (w.savingsVsNow ? ` · ${(w.savingsVsNow * 100).toFixed(0)}% cheaper than now` : ''),
    );
  }
  if (s.version !== undefined) lines.push(`candidate v${s.version} (model sha256 ${s.modelSha256?.slice(0, 12)}, snapshot ${s.snapshotSha256?.slice(0, 12)})`);
  if (s.candidate) {
    lines.push('', '| metric | candidate | champion |', '|---|---|---|');
    // The task's own figures: a forecast has no AUC, a classifier no RMSE.
    for (const m of DETAIL_METRICS.filter((x) => s.candidate!.metrics[x] !== undefined)) {
      lines.push(`| ${m} | ${f(s.candidate.metrics[m])} | ${f(s.champion?.metrics[m])} |`);
    }
  }
  if (s.verdict) {
    lines.push('', s.verdict.passed ? 'Policy: **passed**' : `Policy: **failed**: ${s.verdict.failures.join('; ')}`);
    if (s.verdict.warnings.length) lines.push(`Advisory: ${s.verdict.warnings.join('; ')}`);
  }
  // A pre-signed link would be a credential kept in the history for a week: people get one from the CLI when they ask.
  if (s.reportKey && s.version !== undefined) lines.push('', `Evaluation report: \`factory report ${s.model} ${s.version}\` prints a link to it (${s.reportKey}).`);
  if (s.stage === 'awaiting-approval' && s.version !== undefined) {
    const missing = Math.max(0, (s.approvalsRequired ?? 1) - (s.votes?.length ?? 0));
    lines.push(
      '',
      `Awaiting approval until ${s.approvalDeadline}: ${missing} of ${s.approvalsRequired ?? 1} approvals still needed, from ${s.approvers?.join(', ') || 'nobody enabled in the directory'}.`,
      ...(s.votes?.length ? [`Votes: ${s.votes.map((v) => `${v.identity} ${v.decision} via ${v.channel}`).join('; ')}.`] : []),
      s.slackCard ? `Decide on the [Slack card](${s.slackCard}), or` : 'Decide',
      `with the CLI as yourself (your token): \`factory approve ${s.model} ${s.version}\` or \`factory reject ${s.model} ${s.version} --comment "why"\`.`,
      'A signal or update sent from here is refused (and audited): a decision counts only with an assertion signed by the approvals service.',
      ...(s.refused?.length ? ['', 'Refused:', ...s.refused.map((r) => `- ${r.at} ${r.via} by ${r.by}: ${r.reason}`)] : []),
    );
  }
  if (s.outcome?.status === 'unchanged') lines.push('', `Nothing to decide: ${s.outcome.reason}.`);
  if (s.decision) lines.push('', `Decision: **${s.decision.decision}** by ${s.decision.approver} via ${s.decision.channel} at ${s.decision.decidedAt}${s.decision.comment ? `: ${s.decision.comment}` : ''}`);
  return lines.join('\n');
}

const ms = (v: number) => `${Math.round(v / 1000)}s`;

/** The rollout's "current details": phase, traffic, the guard's last reading, and how to steer it. */
export function rolloutDetails(s: RolloutStatus): string {
  const lines = [`**${s.model}** v${s.version} rollout · phase **${s.phase}**${s.paused ? ' · **paused**' : ''}${s.championVersion !== undefined ? ` · champion v${s.championVersion}` : ''}`];
  if (s.phase === 'canary') lines.push(`canary: v${s.version} answers ${s.canaryPercent}% of requests`);
  if (s.timeline) lines.push(`phases (UTC): ${s.timeline.map((t) => `${stepText(t)} ${t.at.slice(11, 19)}`).join(' → ')}`);
  if (s.phaseMs > 0) lines.push(`phase time ${ms(s.elapsedMs)} of ${ms(s.phaseMs)}${s.verdict && !s.verdict.enough ? ' · waiting for enough traffic' : ''}`);
  if (s.replicas) lines.push(`replicas: ${s.replicas.length ? s.replicas.join(', ') : 'none running'}`);
  if (s.stats) {
    const c = s.stats.candidate;
    const b = s.stats.baseline;
    lines.push('', '| | requests | error rate | p50 ms | p99 ms | mean score |', '|---|---|---|---|---|---|');
    for (const w of [c, b]) lines.push(`| v${w.version} | ${w.requests} | ${(w.errorRate * 100).toFixed(2)}% | ${w.p50Ms.toFixed(2)} | ${w.p99Ms.toFixed(2)} | ${w.meanScore.toFixed(3)} |`);
    lines.push('', `score PSI ${s.stats.scorePsi === null ? '– (too few scores)' : s.stats.scorePsi.toFixed(3)}`);
  }
  if (s.verdict && !s.verdict.healthy) lines.push('', `Guard: **${s.verdict.failures.join('; ')}**`);
  if (s.note) lines.push('', s.note);
  if (s.reason) lines.push('', `Rolled back: **${s.reason}**`);
  if (s.phase !== 'completed' && s.phase !== 'rolled_back') {
    lines.push('', `Steer as yourself (your token): \`factory rollout ${s.paused ? 'resume' : 'pause'}|abort ${s.model} ${s.version} --reason "..."\`; an update sent from here without the approvals service's signature is refused.`);
  }
  return lines.join('\n');
}

/** An edge rollout's Current Details in the Web UI: each ring with its devices done, pending and failed, and how to steer it. */
export function edgeRolloutDetails(s: EdgeRolloutStatus): string {
  const lines = [`**${s.model}** v${s.version} to device group **${s.group}** · **${s.phase}**${s.paused ? ' · **paused**' : ''}`, '', '| ring | stage | done | pending | failed | bake |', '|---|---|---|---|---|---|'];
  for (const r of s.rings) {
    const n = (state: string) => r.devices.filter((d) => d.state === state).length;
    lines.push(`| ${r.percent}% (${r.devices.length} devices) | ${r.stage} | ${n('done')} | ${n('pending')} | ${n('failed')} | ${ms(r.bakedMs)} |`);
  }
  const failed = s.rings.flatMap((r) => r.devices.flatMap((d) => (d.state === 'failed' ? [`${d.device}: ${d.reason}`] : [])));
  if (failed.length) lines.push('', `Failed: ${failed.join('; ')}`);
  const pending = s.rings.flatMap((r) => (r.stage === 'waiting' ? [] : r.devices.filter((d) => d.state === 'pending').map((d) => d.device)));
  if (pending.length && s.phase === 'deploying') lines.push('', `Waiting to hear from (offline devices count as pending, not failed): ${pending.join(', ')}`);
  if (s.note) lines.push('', s.note);
  if (s.reason) lines.push('', `Rolled back: **${s.reason}**`);
  if (s.phase === 'deploying') {
    lines.push('', `Steer as yourself (your token): \`factory edge ${s.paused ? 'resume' : 'pause'}|abort ${s.model} ${s.version} --group ${s.group} --reason "..."\`; an update sent from here without the approvals service's signature is refused.`);
  }
  return lines.join('\n');
}
