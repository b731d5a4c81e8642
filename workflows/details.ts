import type { PipelineStatus } from './definitions';

const f = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));

/** The pipeline's "current details" in the Web UI: where it is and what a person can do now. */
export function describe(s: PipelineStatus): string {
  const lines = [`**${s.model}** · stage **${s.stage}** · trigger ${s.trigger.reason} by ${s.trigger.requestedBy}`];
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
