import { summaryMetrics } from '../../ml/measure';
import { requireModel, type CliContext } from './context';

export interface History {
  model: string;
  versions: {
    version: number;
    status: string;
    createdAt: string;
    modelSha256: string;
    snapshotSha256: string;
    batches: number[];
    trigger: { reason: string; requestedBy: string; detail?: string };
    /** The task's main figures, the headline first (ml/measure.ts summaryMetrics): auc, logLoss, accuracy for a binary model. */
    metrics?: Record<string, number>;
    decision?: { decision: string; by: string; channel: string; at: string; comment?: string; assertionIds: string[] };
  }[];
  specChanges: { at: string; by: string; specSha256: string }[];
  audit: { at: string; actor: string; action: string; version?: number; channel?: string; outcome: string; details: Record<string, unknown> }[];
}

/** A model's lineage and its whole audit trail, refusals included: who decided what, when, through which channel, on which figures. */
export async function modelHistory(ctx: CliContext, name: string): Promise<History> {
  const model = await requireModel(ctx, name, { action: 'model.history' });
  const [versions, changes, audit] = await Promise.all([
    ctx.db.query(
      `SELECT v.version, v.status, v.created_at, v.artifact_sha256, s.artifact_sha256 AS snapshot_sha256, s.batch_ids, t.trigger,
              e.metrics->'quality' AS quality, a.decision, a.decided_by, a.channel, a.decided_at, a.comment, a.assertion_ids
         FROM model_versions v
         JOIN dataset_snapshots s ON s.id = v.snapshot_id
         JOIN training_runs t ON t.id = v.training_run_id
         LEFT JOIN LATERAL (SELECT metrics FROM evaluations WHERE model_version_id = v.id ORDER BY id DESC LIMIT 1) e ON true
         LEFT JOIN approvals a ON a.model_version_id = v.id
        WHERE v.model_id = $1 ORDER BY v.version`,
      [model.id],
    ),
    ctx.db.query('SELECT changed_at, changed_by, spec_sha256 FROM model_spec_changes WHERE model_id = $1 ORDER BY id', [model.id]),
    ctx.db.query('SELECT at, actor, action, version, channel, outcome, details FROM audit_events WHERE model = $1 ORDER BY id', [name]),
  ]);
  return {
    model: name,
    versions: versions.rows.map((r) => ({
      version: r.version,
      status: r.status,
      createdAt: r.created_at.toISOString(),
      modelSha256: r.artifact_sha256,
      snapshotSha256: r.snapshot_sha256,
      batches: r.batch_ids.map(Number),
      trigger: r.trigger,
      metrics: r.quality ? summaryMetrics(r.quality) : undefined,
      decision: r.decision ? { decision: r.decision, by: r.decided_by, channel: r.channel, at: r.decided_at.toISOString(), comment: r.comment ?? undefined, assertionIds: r.assertion_ids } : undefined,
    })),
    specChanges: changes.rows.map((r) => ({ at: r.changed_at.toISOString(), by: r.changed_by, specSha256: r.spec_sha256 })),
    audit: audit.rows.map((r) => ({ at: r.at.toISOString(), actor: r.actor, action: r.action, version: r.version ?? undefined, channel: r.channel ?? undefined, outcome: r.outcome, details: r.details })),
  };
}

const f4 = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));
/** The first of a version's figures (summaryMetrics puts the headline first), or "not evaluated". */
const headlineOf = (m: Record<string, number> | undefined) => {
  const [name, value] = Object.entries(m ?? {})[0] ?? [];
  return name === undefined ? 'not evaluated' : `${name} ${f4(value)}`;
};
const short = (sha: string) => sha.slice(0, 12);

/** What a person reads first in an audit row's details: why it was refused, what was said, which assertion it carried. */
function gist(d: Record<string, unknown>): string {
  const parts = [
    typeof d.reason === 'string' && `reason: ${d.reason}`,
    typeof d.decision === 'string' && d.decision,
    typeof d.comment === 'string' && `"${d.comment}"`,
    typeof d.assertionId === 'string' && `assertion ${short(d.assertionId)}`,
    Array.isArray(d.votes) && d.votes.length > 0 && `votes ${d.votes.map((v: { identity: string; assertionId: string }) => `${v.identity} (${short(v.assertionId)})`).join(', ')}`,
    typeof d.claimedBy === 'string' && `claimed to be ${d.claimedBy}`,
  ].filter(Boolean);
  return parts.join('; ');
}

export function describeHistory(h: History): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [`${h.model}: lineage`];
  for (const v of h.versions) {
    const d = v.decision;
    lines.push(
      `  v${v.version}  ${pad(v.status, 17)} model ${short(v.modelSha256)}  snapshot ${short(v.snapshotSha256)} (batches ${v.batches.join(', ')})  ${headlineOf(v.metrics)}  trigger ${v.trigger.reason} by ${v.trigger.requestedBy}`,
      ...(d ? [`        ${d.decision} by ${d.by} via ${d.channel} at ${d.at}${d.comment ? ` ("${d.comment}")` : ''}${d.assertionIds.length ? `; assertions ${d.assertionIds.map(short).join(', ')}` : ''}`] : []),
    );
  }
  if (h.specChanges.length) lines.push('', '  spec changes:', ...h.specChanges.map((c) => `    ${c.at}  ${c.by}  spec ${short(c.specSha256)}`));
  lines.push('', `${h.model}: audit trail (${h.audit.length} events)`, `  ${pad('at', 24)} ${pad('actor', 24)} ${pad('action', 20)} ${pad('version', 7)} ${pad('channel', 9)} ${pad('outcome', 7)} detail`);
  for (const e of h.audit) {
    lines.push(`  ${pad(e.at, 24)} ${pad(e.actor, 24)} ${pad(e.action, 20)} ${pad(e.version === undefined ? '' : `v${e.version}`, 7)} ${pad(e.channel ?? '', 9)} ${pad(e.outcome, 7)} ${gist(e.details)}`);
  }
  return lines.join('\n');
}
