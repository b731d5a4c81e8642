/**
 * Drift benchmark (issue 5): the shipped drift scenario (data/drift-scenario.ts:
 * from month SHIFT_FROM on, defaulters' payment delays read "paid duly") replayed
 * month by month through the factory's own trainer, scorer and drift statistics,
 * beside a control replay without the shift. Prints per month the drift check's
 * figures and decision, the detection delay in batches, and AUC on the last
 * (post-shift, unseen) month for the old champion vs the retrained one.
 *
 *   node dist/scripts/bench/drift.js
 *
 * Protocol, as the factory runs it: the champion is trained on months 1–3;
 * during month m it answers that month's clients; at the month's end their labels
 * arrive (batch m is ingested) and the drift check compares the month's inputs
 * and scores with the champion's training data, using the thresholds of
 * models/credit-default.yaml. A check that fires retrains on months 1..m.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { driftReplay, SHIFT_FROM } from '../../data/drift-scenario';
import { replayBatches } from '../../data/replay';
import { toDataset, type Dataset } from '../../ml/dataset';
import { driftReport } from '../../ml/drift';
import { auc } from '../../ml/metrics';
import { OnnxScorer } from '../../ml/scoring';
import { splitRows } from '../../ml/split';
import { runTrainer } from '../../ml/trainers';
import { validateBatch, type BatchRow } from '../../specs/data-batch';
import { driftTriggerSchema } from '../../specs/model-spec';
import { shippedSpec } from './kit/repo';

const MONTHS = 6;
const spec = shippedSpec();
const cfg = spec.triggers.drift ?? driftTriggerSchema.parse({});
const F = spec.features.length;
const names = spec.features.map((f) => f.name);

interface Champion {
  scorer: OnnxScorer;
  reference: Dataset;
  /** Its scores on its own training data: the reference of every check while it is champion. */
  referenceScores: Float64Array;
}

async function train(rows: BatchRow[]): Promise<Champion> {
  const parts = splitRows(rows, spec.split);
  const model = runTrainer({ spec, params: spec.trainer, train: toDataset(parts.train, spec), validation: toDataset(parts.validation, spec), onProgress: () => undefined });
  const scorer = await OnnxScorer.load(model.onnx, spec);
  const reference = toDataset(rows, spec);
  return { scorer, reference, referenceScores: await scorer.scoreDataset(reference) };
}

const column = (d: Dataset, j: number) => Float64Array.from({ length: d.rows }, (_, i) => d.x[i * F + j]);

interface MonthRow {
  month: number;
  shifted: boolean;
  maxPsi: number;
  top: string;
  scorePsi: number;
  liveAuc: number;
  retrain: boolean;
}

/** Months 1–3 are the same in both replays, so the first champion is trained once and shared. */
async function replay(files: string[], shifted: boolean, original: Champion) {
  const months = files.map((f) => validateBatch(spec, fs.readFileSync(f, 'utf8')).rows);
  let champion = original;
  let detected: number | undefined;
  const table: MonthRow[] = [];
  for (let m = 4; m <= MONTHS; m++) {
    const month = toDataset(months[m - 1], spec);
    const scores = await champion.scorer.scoreDataset(month);
    const report = driftReport({
      features: names,
      reference: names.map((_, j) => column(champion.reference, j)),
      current: names.map((_, j) => column(month, j)),
      referenceScores: champion.referenceScores,
      currentScores: scores,
      psiThreshold: cfg.psiThreshold,
      discrete: spec.features.filter((f) => f.type === 'category').map((f) => f.name),
    });
    const liveAuc = auc(months[m - 1].map((r) => r.label), scores);
    const retrain = report.drifted.length > 0 || (report.score?.psi ?? 0) >= cfg.psiThreshold || (cfg.minLiveAuc !== undefined && liveAuc < cfg.minLiveAuc);
    const top = [...report.features].sort((a, b) => b.psi - a.psi)[0];
    table.push({ month: m, shifted: shifted && m >= SHIFT_FROM, maxPsi: report.maxPsi, top: top.feature, scorePsi: report.score?.psi ?? 0, liveAuc, retrain });
    if (retrain && m < MONTHS) {
      detected ??= m;
      champion = await train(months.slice(0, m).flat());
    }
  }
  const last = toDataset(months[MONTHS - 1], spec);
  const labels = months[MONTHS - 1].map((r) => r.label);
  return {
    table,
    detected,
    oldAuc: auc(labels, await original.scorer.scoreDataset(last)),
    newAuc: auc(labels, await champion.scorer.scoreDataset(last)),
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-drift-'));
  const files = replayBatches(creditDefaultText(loadEnv()), dir, MONTHS);
  console.log(`credit-default, ${MONTHS} monthly batches (seeded replay); shift from month ${SHIFT_FROM}; checks: PSI >= ${cfg.psiThreshold}, live AUC < ${cfg.minLiveAuc ?? '–'}\n`);
  const first = await train(files.slice(0, 3).flatMap((f) => validateBatch(spec, fs.readFileSync(f, 'utf8')).rows));
  for (const [name, shifted] of [['drift scenario', true], ['control (no shift)', false]] as const) {
    const r = await replay(shifted ? driftReplay(files, dir) : files, shifted, first);
    console.log(`${name}`);
    console.log(`  month  shifted  max PSI (feature)      score PSI  live AUC  decision`);
    for (const t of r.table) {
      console.log(`  ${String(t.month).padEnd(6)} ${(t.shifted ? 'yes' : 'no').padEnd(8)} ${`${t.maxPsi.toFixed(3)} (${t.top})`.padEnd(22)} ${t.scorePsi.toFixed(3).padEnd(10)} ${t.liveAuc.toFixed(4).padEnd(9)} ${t.retrain ? 'RETRAIN' : 'stable'}`);
    }
    if (shifted) console.log(`  detection delay: ${r.detected === undefined ? 'NOT detected' : `${r.detected - SHIFT_FROM} batch(es) after the shift (month ${r.detected})`}`);
    else console.log(`  false alarms: ${r.table.filter((t) => t.retrain).length}`);
    console.log(`  AUC on month ${MONTHS}: old champion ${r.oldAuc.toFixed(4)}, ${r.detected || !shifted ? 'current champion' : 'no retrain'} ${r.newAuc.toFixed(4)}\n`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
