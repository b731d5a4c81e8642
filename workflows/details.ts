import type { PipelineStatus, RolloutStatus } from './definitions';

const f = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));

/** The pipeline's "current details" in the Web UI: where it is and what a person can do now. */
export function describe(s: PipelineStatus): string {
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
    for (const m of ['auc', 'logLoss', 'ece', 'latencyP99Ms', 'disparateImpactRatio'] as const) {
      lines.push(`| ${m} | ${f(s.candidate.metrics[m])} | ${f(s.champion?.metrics[m])} |`);
    }
  }
  if (s.verdict) {
    lines.push('', s.verdict.passed ? 'Policy: **passed**' : `Policy: **failed**: ${s.verdict.failures.join('; ')}`);
    if (s.verdict.warnings.length) lines.push(`Advisory: ${s.verdict.warnings.join('; ')}`);
  }
  if (s.reportUrl) lines.push('', `[Evaluation report](${s.reportUrl})`);
  if (s.stage === 'awaiting-approval' && s.version !== undefined) {
    lines.push(
      '',
      `Awaiting approval by ${s.approvers?.join(' or ')} until ${s.approvalDeadline}.`,
      `CLI: \`factory approve ${s.model} ${s.version} --as <you>\` (or \`factory reject ...\`).`,
      `Here: Send Signal \`approve\` or \`reject\` with input \`{"version": ${s.version}, "approver": "<you>", "comment": "..."}\`.`,
    );
  }
  if (s.decision) lines.push('', `Decision: **${s.decision.decision}** by ${s.decision.approver} via ${s.decision.channel} at ${s.decision.decidedAt}${s.decision.comment ? `: ${s.decision.comment}` : ''}`);
  return lines.join('\n');
}

const ms = (v: number) => `${Math.round(v / 1000)}s`;

/** The rollout's "current details": phase, traffic, the guard's last reading, and how to steer it. */
export function describeRollout(s: RolloutStatus): string {
  const lines = [`**${s.model}** v${s.version} rollout · phase **${s.phase}**${s.paused ? ' · **paused**' : ''}${s.championVersion !== undefined ? ` · champion v${s.championVersion}` : ''}`];
  if (s.phase === 'canary') lines.push(`canary: v${s.version} answers ${s.canaryPercent}% of requests`);
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
    lines.push('', `Steer: Execute Update \`${s.paused ? 'resume' : 'pause'}\` or \`abort\` with input \`{"by": "<you>", "reason": "..."}\`, or \`factory rollout ${s.paused ? 'resume' : 'pause'}|abort ${s.model} ${s.version} --as <you>\`.`);
  }
  return lines.join('\n');
}
