import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { metrics } from '../config/metrics';
import { findChampion } from '../db/champion';
import { findModel } from '../db/models';
import { driftReport, psiOfCounts } from '../ml/drift';
import { groupScores } from '../db/edge';
import { scoreBins } from '../edge/telemetry';
import { loggedScores } from '../serving/predict-body';
import { auc } from '../ml/metrics';
import { OnnxScorer } from '../ml/scoring';
import { isStringCategory, otherCode } from '../specs/feature-encoding';
import { regressionQuality } from '../ml/task-quality';
import { readSnapshot } from '../ml/snapshot';
import { fromCanonicalCsv } from '../specs/data-batch';
import { durationMs } from '../specs/duration';
import { driftTriggerSchema } from '../specs/model-spec';
import { refOf } from '../storage/artifacts';
import type { DriftCheck } from '../contracts/payloads';
import type { ActivityDeps } from './deps';
import { inScratch } from './scratch';

/** Recent predictions read per check at most; PSI needs hundreds, not millions. */
const MAX_WINDOW_ROWS = 50_000;

interface Ref {
  artifact_key: string;
  artifact_sha256: string;
  artifact_bytes: string;
}

/**
 * Drift activities (cpu pool): the champion's live inputs and scores against
 * its training snapshot (PSI per feature and for the score, KS where a feature
 * is continuous), and live AUC from labels that arrived after the predictions.
 */
export function createDriftActivities({ db, store, workDir }: Pick<ActivityDeps, 'db' | 'store' | 'workDir'>) {
  return {
    async measureDrift(input: { model: string; checkId: string }): Promise<DriftCheck> {
      const model = await findModel(db, input.model);
      const { spec } = model;
      const cfg = spec.triggers.drift ?? driftTriggerSchema.parse({});
      const c = await findChampion(db, model.id);
      const record = async (check: DriftCheck) => {
        await db.query(
          `INSERT INTO drift_checks (model_id, check_id, version_id, snapshot_id, rows, max_psi, score_psi, drifted_features, live_auc, labelled, retrain, summary, report_key, report_sha256)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (check_id) DO NOTHING`,
          [model.id, input.checkId, c?.versionId ?? null, c?.snapshot.id ?? null, check.rows, check.maxPsi ?? null, check.scorePsi ?? null, check.driftedFeatures, check.liveAuc ?? null, check.labelled, check.retrain, check.summary, check.reportKey ?? null, check.reportSha256 ?? null],
        );
        metrics.driftChecks.inc({ model: input.model, outcome: !check.conclusive ? 'inconclusive' : check.retrain ? 'retrain' : 'stable' });
        return check;
      };
      if (!c) return record({ conclusive: false, retrain: false, summary: `${input.model} has no champion yet: nothing to compare`, rows: 0, driftedFeatures: [], labelled: 0 });

      // A model with a time column whose clients send it is watched in data time: the window ends at the time of the row
      // served last (not the latest time ever sent, which one client's stray future date would move for good).
      const dataTime =
        spec.timeColumn !== undefined &&
        (await db.query("SELECT 1 FROM predictions WHERE model = $1 AND version = $2 AND role = 'champion' AND data_time IS NOT NULL LIMIT 1", [input.model, c.version])).rowCount === 1;
      const recent = await db.query<{ features: number[]; score: number; row_id: string | null }>(
        dataTime
          ? `WITH latest AS (
               SELECT data_time AS t FROM predictions
                WHERE model = $1 AND version = $2 AND role = 'champion' AND ok AND data_time IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1)
             SELECT features, score, row_id FROM predictions, latest
              WHERE model = $1 AND version = $2 AND role = 'champion' AND ok AND data_time > latest.t - make_interval(secs => $3) AND data_time <= latest.t
              ORDER BY data_time DESC, at DESC LIMIT ${MAX_WINDOW_ROWS}`
          : `SELECT features, score, row_id FROM predictions
              WHERE model = $1 AND version = $2 AND role = 'champion' AND ok AND at > now() - make_interval(secs => $3)
              ORDER BY at DESC LIMIT ${MAX_WINDOW_ROWS}`,
        [input.model, c.version, durationMs(cfg.window) / 1000],
      );
      const rows = recent.rowCount ?? 0;
      const within = dataTime ? `the latest ${cfg.window} of data time (${spec.timeColumn})` : `the last ${cfg.window}`;
      // Devices count like the serving fleet, per group: the distribution of their answers (they send counts, not inputs).
      const groups = (await groupScores(db, input.model, c.version, new Date(Date.now() - durationMs(cfg.window)))).filter((g) => g.requests >= cfg.minRows);
      if (rows < cfg.minRows && groups.length === 0) {
        return record({ conclusive: false, retrain: false, championVersion: c.version, rows, driftedFeatures: [], labelled: 0, summary: `only ${rows} predictions by v${c.version} in ${within} (need ${cfg.minRows}), and no device group with as many: inconclusive` });
      }
      const names = spec.features.map((f) => f.name);
      const current = names.map((_, j) => Float64Array.from(recent.rows, (r) => r.features[j] ?? NaN));
      const currentScores = Float64Array.from(recent.rows, (r) => r.score);

      Context.current().heartbeat({ stage: 'reading the champion snapshot' });
      const snapshot = await inScratch(workDir, 'drift-', async (dir) => {
        const snapshotPath = path.join(dir, 'snapshot.parquet');
        fs.writeFileSync(snapshotPath, await store.get(c.snapshot.artifact));
        return readSnapshot(snapshotPath, spec);
      });
      const reference = names.map((_, j) => Float64Array.from({ length: snapshot.rows }, (_, i) => snapshot.x[i * snapshot.features + j]));
      // The champion's scores on its own training data are the reference for the live score distribution.
      const scorer = await OnnxScorer.load(await store.get(c.artifact), spec);
      const referenceScores = await scorer.scoreDataset(snapshot).finally(() => scorer.release());

      const bins = scoreBins(spec);
      const referenceCounts = new Array<number>(bins.count).fill(0);
      for (const v of loggedScores(Float32Array.from(referenceScores), scorer.output.width)) referenceCounts[bins.binOf(v)]++;
      const edge = groups.map((g) => ({ group: g.group, requests: g.requests, scorePsi: psiOfCounts(referenceCounts, g.scores) }));
      const edgeDrift = edge.filter((g) => g.scorePsi >= cfg.psiThreshold).map((g) => `score drift on the devices of ${g.group} (PSI ${g.scorePsi.toFixed(3)} over ${g.requests} requests)`);
      const edgeSummary = edge.length ? `devices: ${edge.map((g) => `${g.group} score PSI ${g.scorePsi.toFixed(3)} (${g.requests} requests)`).join(', ')}` : undefined;
      if (rows < cfg.minRows) {
        // Only devices answered enough: their answers are the evidence, the fleet's inputs are too few to compare.
        const body = JSON.stringify({ model: input.model, checkId: input.checkId, championVersion: c.version, window: cfg.window, servingRows: rows, edge }, null, 1);
        const stored = await store.put('reports', body, '.json', 'application/json');
        const summary = [edgeDrift.length ? `drift: ${edgeDrift.join('; ')}` : 'stable at the edge', `only ${rows} predictions by v${c.version} on the serving fleet in ${within}`, edgeSummary!, `report ${stored.key}`].join(' · ');
        return record({ conclusive: true, retrain: edgeDrift.length > 0, summary, championVersion: c.version, rows, driftedFeatures: [], labelled: 0, reportKey: stored.key, reportSha256: stored.sha256 });
      }
      const report = driftReport({
        features: names,
        reference,
        current,
        referenceScores,
        currentScores,
        psiThreshold: cfg.psiThreshold,
        discrete: spec.features.filter((f) => f.type === 'category').map((f) => f.name),
      });
      // The "other" bucket of each category that has one: values the spec does not list, in training and now.
      const share = (xs: Float64Array, code: number) => xs.reduce((n, v) => n + (v === code ? 1 : 0), 0) / Math.max(1, xs.length);
      const others = spec.features.flatMap((f, j) =>
        f.unknown === 'other' && isStringCategory(f) ? [{ feature: f.name, training: share(reference[j], otherCode(f)), recent: share(current[j], otherCode(f)) }] : [],
      );
      const live = await liveQuality(recent.rows);
      const [liveName, liveValue] = spec.task === 'regression' ? ['live RMSE', live.rmse] : spec.task === 'multiclass-classification' ? ['live accuracy', live.accuracy] : ['live AUC', live.auc];
      const scorePsi = report.score?.psi;
      const reasons = [
        ...(report.drifted.length ? [`input drift in ${report.drifted.map((f) => `${f} (PSI ${psiOf(report, f)})`).join(', ')}`] : []),
        ...(scorePsi !== undefined && scorePsi >= cfg.psiThreshold ? [`score drift (PSI ${scorePsi.toFixed(3)})`] : []),
        ...(live.auc !== undefined && cfg.minLiveAuc !== undefined && live.auc < cfg.minLiveAuc ? [`live AUC ${live.auc.toFixed(3)} < ${cfg.minLiveAuc}`] : []),
        ...(live.rmse !== undefined && cfg.maxLiveRmse !== undefined && live.rmse > cfg.maxLiveRmse ? [`live RMSE ${live.rmse.toFixed(3)} > ${cfg.maxLiveRmse}`] : []),
        ...(live.accuracy !== undefined && cfg.minLiveAccuracy !== undefined && live.accuracy < cfg.minLiveAccuracy ? [`live accuracy ${live.accuracy.toFixed(3)} < ${cfg.minLiveAccuracy}`] : []),
        ...edgeDrift,
      ];
      const body = JSON.stringify({ model: input.model, checkId: input.checkId, championVersion: c.version, snapshotSha256: c.snapshot.artifact.sha256, window: cfg.window, liveAuc: live.auc, liveRmse: live.rmse, liveAccuracy: live.accuracy, labelled: live.labelled, others, edge, report }, null, 1);
      const stored = await store.put('reports', body, '.json', 'application/json');
      const top = [...report.features].sort((a, b) => b.psi - a.psi).slice(0, 3).map((f) => `${f.feature} ${f.psi.toFixed(3)}`).join(', ');
      const summary = [
        reasons.length ? `drift: ${reasons.join('; ')}` : `stable: max PSI ${report.maxPsi.toFixed(3)} < ${cfg.psiThreshold}`,
        `${rows} predictions by v${c.version} in ${within} vs its training snapshot ${c.snapshot.artifact.sha256.slice(0, 12)}`,
        `top PSI ${top}; score PSI ${scorePsi?.toFixed(3) ?? '–'}`,
        `${liveName} ${liveValue?.toFixed(3) ?? '–'} on ${live.labelled} labelled predictions`,
        ...(others.some((o) => o.recent > 0 || o.training > 0) ? [`other values: ${others.map((o) => `${o.feature} ${(100 * o.recent).toFixed(1)}% (training ${(100 * o.training).toFixed(1)}%)`).join(', ')}`] : []),
        ...(edgeSummary ? [edgeSummary] : []),
        `report ${stored.key}`,
      ].join(' · ');
      return record({
        conclusive: true,
        retrain: reasons.length > 0,
        summary,
        championVersion: c.version,
        rows,
        maxPsi: report.maxPsi,
        scorePsi,
        driftedFeatures: report.drifted,
        liveAuc: live.auc,
        labelled: live.labelled,
        reportKey: stored.key,
        reportSha256: stored.sha256,
      });

      /**
       * Labels arrive later, in accepted batches; a prediction whose request
       * carried the row id meets its label here: live AUC for a binary model,
       * RMSE of the predicted values for regression, accuracy of the predicted
       * classes (the log keeps the class) for multiclass.
       */
      async function liveQuality(predictions: { score: number; row_id: string | null }[]): Promise<{ auc?: number; rmse?: number; accuracy?: number; labelled: number }> {
        const wanted = new Set(predictions.flatMap((p) => (p.row_id === null ? [] : [p.row_id])));
        if (wanted.size === 0) return { labelled: 0 };
        // Only batches accepted since the window opened can hold labels for its predictions: older ones are not read again.
        const batches = await db.query<Ref>(
          "SELECT artifact_key, artifact_sha256, artifact_bytes FROM data_batches WHERE model_id = $1 AND status = 'accepted' AND created_at > now() - make_interval(secs => $2) ORDER BY id",
          [model.id, durationMs(cfg.window) / 1000],
        );
        const labels = new Map<string, number>();
        for (const b of batches.rows) for (const row of fromCanonicalCsv(spec, await store.getText(refOf(b)))) if (wanted.has(row.id)) labels.set(row.id, row.label);
        const joined = predictions.filter((p) => p.row_id !== null && labels.has(p.row_id));
        if (joined.length < cfg.minLabelled) return { labelled: joined.length };
        const y = joined.map((p) => labels.get(p.row_id!)!);
        const s = joined.map((p) => p.score);
        if (spec.task === 'regression') return { rmse: regressionQuality(y, s).rmse, labelled: joined.length };
        if (spec.task === 'multiclass-classification') return { accuracy: y.filter((v, i) => v === s[i]).length / y.length, labelled: joined.length };
        return { auc: auc(y, s), labelled: joined.length };
      }
    },
  };
}

const psiOf = (r: ReturnType<typeof driftReport>, feature: string) => r.features.find((f) => f.feature === feature)!.psi.toFixed(3);

export type DriftActivities = ReturnType<typeof createDriftActivities>;
