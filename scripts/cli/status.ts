import { describeQuality, headline, type TaskQuality } from '../../ml/measure';
import { findChampion } from '../../db/champion';
import { durationMs } from '../../specs/duration';
import type { TrainingEnergy } from '../../contracts/payloads';
import { workflowUrl } from '../../config/env';
import { requireModel, type CliContext } from './context';

interface VersionRow {
  version: number;
  status: string;
  status_reason: string | null;
  artifact_sha256: string;
  artifact_bytes: string;
  workflow_id: string;
  created_at: Date;
  snapshot_sha256: string;
  snapshot_rows: number;
  batch_ids: string[];
  trainer: { kind: string };
  trigger: { reason: string; requestedBy: string };
  train_metrics: Record<string, number>;
  wall_ms: number;
  cpu_ms: number | null;
  energy: TrainingEnergy | null;
  /** The evaluation's quality (ml/measure.ts TaskQuality). */
  metrics: TaskQuality | null;
  report_key: string | null;
  passed: boolean | null;
  decision: string | null;
  decided_by: string | null;
  channel: string | null;
  comment: string | null;
  decided_at: Date | null;
}

const sig = (v: number) => (v === 0 ? '0' : v.toPrecision(3));

/** kWh and cost, saying whether the energy was measured or estimated and where the price came from. */
function energyLine(e: TrainingEnergy | null): string {
  if (!e) return 'not metered (trained before energy accounting)';
  const how = e.estimated ? `ESTIMATE, ${e.method}` : `measured, ${e.method}`;
  const cost = e.cost === null ? `cost unknown (${e.costError})` : `cost ${sig(e.cost)} ${e.currency} at ${e.priceSource}`;
  return `${sig(e.kWh)} kWh, avg ${e.avgPowerW.toFixed(1)} W (${how}); ${cost}`;
}

/** A model's champion with its full lineage, its previous champion, versions, data and running pipelines. */
export async function modelStatus(ctx: CliContext, name: string): Promise<string> {
  const model = await requireModel(ctx, name, { action: 'model.status' });
  const versions = await ctx.db.query<VersionRow>(
    `SELECT v.version, v.status, v.status_reason, v.artifact_sha256, v.artifact_bytes, v.workflow_id, v.created_at,
            s.artifact_sha256 AS snapshot_sha256, s.row_count AS snapshot_rows, s.batch_ids,
            t.trainer, t.trigger, t.metrics AS train_metrics, t.wall_ms, t.cpu_ms, t.energy,
            e.metrics->'quality' AS metrics, e.report_key, e.passed, a.decision, a.decided_by, a.channel, a.comment, a.decided_at
       FROM model_versions v
       JOIN dataset_snapshots s ON s.id = v.snapshot_id
       JOIN training_runs t ON t.id = v.training_run_id
       LEFT JOIN LATERAL (SELECT metrics, passed, report_key FROM evaluations WHERE model_version_id = v.id ORDER BY id DESC LIMIT 1) e ON true
       LEFT JOIN approvals a ON a.model_version_id = v.id
      WHERE v.model_id = $1 ORDER BY v.version`,
    [model.id],
  );
  const champion = await findChampion(ctx.db, model.id);
  const batches = await ctx.db.query<{ status: string; n: string; rows: string }>(
    'SELECT status, count(*) AS n, COALESCE(sum(row_count), 0) AS rows FROM data_batches WHERE model_id = $1 GROUP BY status',
    [model.id],
  );
  const out = [`${name}: ${model.spec.description}`];
  const champ = champion && versions.rows.find((v) => v.version === champion.version);
  if (champion && champ) {
    out.push(
      `  champion: v${champ.version} since ${champion.since.toISOString()}`,
      `    approved by ${champ.decided_by} via ${champ.channel} at ${champ.decided_at?.toISOString()}${champ.comment ? ` ("${champ.comment}")` : ''}`,
      `    model    sha256 ${champ.artifact_sha256} (${champ.artifact_bytes} bytes ONNX, ${champ.trainer.kind})`,
      `    snapshot sha256 ${champ.snapshot_sha256} (${champ.snapshot_rows} rows from batches ${champ.batch_ids.join(', ')})`,
      `    metrics  ${champ.metrics ? describeQuality(champ.metrics) : 'not evaluated'}`,
      `    trained  ${(champ.wall_ms / 1000).toFixed(1)}s wall, ${champ.cpu_ms === null ? 'CPU not observable' : `${(champ.cpu_ms / 1000).toFixed(1)}s CPU`}; trigger ${champ.trigger.reason} by ${champ.trigger.requestedBy}`,
      `    energy   ${energyLine(champ.energy)}`,
      `    pipeline ${workflowUrl(ctx.env, champ.workflow_id)}`,
      ...(champ.report_key ? [`    report   ${await ctx.store.presign(champ.report_key, 24 * 3600)}`] : []),
      `  previous champion: ${champion.previous ? `v${champion.previous.version} (kept for rollback)` : 'none'}`,
    );
  } else out.push('  champion: none yet');
  out.push('  versions:');
  for (const v of versions.rows) {
    const why = v.decision ? ` by ${v.decided_by} via ${v.channel}` : v.status_reason ? `: ${v.status_reason}` : '';
    const kWh = v.energy ? `  ${sig(v.energy.kWh)} kWh${v.energy.estimated ? ' (est.)' : ''}` : '';
    out.push(`    v${v.version}  ${v.status.padEnd(17)} ${headline(v.metrics ?? undefined)}${kWh}  trigger ${v.trigger.reason.padEnd(8)} ${v.created_at.toISOString()}${why}`);
  }
  if (versions.rowCount === 0) out.push('    none');
  const b = Object.fromEntries(batches.rows.map((r) => [r.status, r]));
  out.push(`  data: ${b.accepted?.n ?? 0} accepted batches (${b.accepted?.rows ?? 0} rows), ${b.quarantined?.n ?? 0} quarantined`);
  const running: string[] = [];
  for await (const wf of ctx.client.workflow.list({ query: `FactoryModel = "${name}" AND ExecutionStatus = "Running" AND WorkflowType = "trainingPipeline"` })) {
    const stage = wf.searchAttributes?.FactoryStage?.[0] ?? '?';
    running.push(`    ${wf.workflowId}  stage ${stage}  ${workflowUrl(ctx.env, wf.workflowId)}`);
  }
  out.push(running.length ? '  running pipelines:' : '  running pipelines: none', ...running);
  const rollouts = await ctx.db.query<{ version: number; phase: string; canary_percent: number; paused: boolean; reason: string | null; started_at: Date }>(
    `SELECT v.version, r.phase, r.canary_percent, r.paused, r.reason, r.started_at FROM rollouts r JOIN model_versions v ON v.id = r.candidate_version_id
      WHERE r.model_id = $1 ORDER BY r.id DESC LIMIT 5`,
    [model.id],
  );
  out.push(rollouts.rowCount ? '  rollouts (latest first):' : '  rollouts: none');
  for (const r of rollouts.rows) {
    const where = r.phase === 'canary' ? ` at ${r.canary_percent}%` : '';
    out.push(`    v${r.version}  ${r.phase}${where}${r.paused ? ' (paused)' : ''}  ${r.started_at.toISOString()}${r.reason ? `  ${r.reason}` : ''}`);
  }
  const drift = await ctx.db.query<{ created_at: Date; retrain: boolean; summary: string }>(
    'SELECT created_at, retrain, summary FROM drift_checks WHERE model_id = $1 ORDER BY id DESC LIMIT 1',
    [model.id],
  );
  const replicas = await ctx.db.query<{ replica_id: string; serving: Record<string, { champion: number; candidate: number | null }> }>(
    // Live as the model's rollouts count it: reported within its replicaTimeout.
    'SELECT replica_id, serving FROM serving_replicas WHERE heartbeat_at > now() - make_interval(secs => $1) ORDER BY replica_id',
    [durationMs(model.spec.rollout.replicaTimeout) / 1000],
  );
  const serving = replicas.rows.filter((r) => r.serving[name]).map((r) => `${r.replica_id} v${r.serving[name].champion}${r.serving[name].candidate ? ` (+v${r.serving[name].candidate})` : ''}`);
  out.push(`  serving replicas: ${serving.join(', ') || 'none reporting'}`);
  out.push(`  last drift check: ${drift.rows[0] ? `${drift.rows[0].created_at.toISOString()} ${drift.rows[0].summary}` : 'none'}`);
  return out.join('\n');
}
