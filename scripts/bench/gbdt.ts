/**
 * Benchmark: this project's GBDT vs XGBoost (Debian's python3-xgboost,
 * tree_method=hist, one thread) on the same stratified 80/20 split of the
 * shipped credit-default data, in one run. Prints train time and its ratio,
 * AUC, log loss, peak memory, and ONNX parity of our model.
 *
 *   node dist/scripts/bench/gbdt.js [--trees 200] [--depth 6]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { readCsv, writeCsv } from '../../data/csv';
import { toDataset, type Dataset } from '../../ml/dataset';
import { gbdtToOnnx } from '../../ml/gbdt/onnx';
import { fitGbdt, predictGbdt } from '../../ml/gbdt/train';
import { auc, logLoss } from '../../ml/metrics';
import { prng } from '../../ml/random';
import { OnnxScorer } from '../../ml/scoring';
import { validateBatch, type BatchRow } from '../../specs/data-batch';
import { gbdtSchema, type FeatureSpec } from '../../specs/model-spec';
import { arg } from './kit/cli';
import { ROOT, shippedSpec } from './kit/repo';
import { verdict } from './kit/cli';

const SEED = 20_260_101;
const params = gbdtSchema.parse({
  kind: 'gbdt',
  trees: Number(arg('trees', '200')),
  maxDepth: Number(arg('depth', '6')),
  learningRate: 0.1,
  lambda: 1,
  minChildWeight: 1,
  maxBins: 255,
  earlyStoppingRounds: 0,
});

function shuffle<T>(items: T[], seed: number): T[] {
  const random = prng(seed);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Stratified 80/20: each class shuffled with the seed, its first 20% held out. */
function stratified(rows: BatchRow[]): { train: BatchRow[]; test: BatchRow[] } {
  const train: BatchRow[] = [];
  const test: BatchRow[] = [];
  for (const label of [0, 1]) {
    const cls = shuffle(rows.filter((r) => r.label === label), SEED + label);
    const cut = Math.round(cls.length * 0.2);
    test.push(...cls.slice(0, cut));
    train.push(...cls.slice(cut));
  }
  return { train, test };
}

/** The columns as the two trainers see them: numbers, in the spec's order. */
const anonymous = (n: number): FeatureSpec[] => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: 'number' }));

/** Label first, then the encoded features (string categories as their codes, specs/feature-encoding.ts): what both sides read. */
const toCsv = (d: Dataset) => writeCsv(d.ids.map((_, i) => [d.y[i], ...d.x.subarray(i * d.features, (i + 1) * d.features)]));

/** Our side runs in a child process so its peak RSS is its own. */
function ourSide(trainFile: string, testFile: string, outFile: string): void {
  const read = (f: string): Dataset => {
    const rows = readCsv(fs.readFileSync(f, 'utf8')).map(({ cells }, i) => {
      const v = cells.map(Number);
      return { id: String(i), label: v[0] as 0 | 1, features: v.slice(1) };
    });
    return toDataset(rows, { features: anonymous(rows[0].features.length) });
  };
  const train = read(trainFile);
  const test = read(testFile);
  const empty = toDataset([], { features: anonymous(train.features) });
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  const model = fitGbdt(train, empty, params);
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const scores = predictGbdt(model, test);
  fs.writeFileSync(outFile, Array.from(scores).join('\n'));
  fs.writeFileSync(`${outFile}.onnx`, gbdtToOnnx(model, anonymous(train.features), 'bench'));
  process.stdout.write(
    JSON.stringify({ trainSeconds: wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: process.resourceUsage().maxRSS / 1024, trees: model.trees.length }),
  );
}

async function main(): Promise<void> {
  if (process.argv[2] === '--our-side') return ourSide(process.argv[3], process.argv[4], process.argv[5]);
  const spec = shippedSpec();
  const csv = creditDefaultText(loadEnv());
  const { rows } = validateBatch(spec, csv);
  const split = stratified(rows);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gbdt-'));
  const trainFile = path.join(dir, 'train.csv');
  const testFile = path.join(dir, 'test.csv');
  const test = toDataset(split.test, spec);
  fs.writeFileSync(trainFile, toCsv(toDataset(split.train, spec)));
  fs.writeFileSync(testFile, toCsv(test));
  const labels = split.test.map((r) => r.label);
  console.log(`credit-default: ${split.train.length} train / ${split.test.length} test rows (stratified, seed ${SEED}), ${spec.features.length} features`);
  console.log(`params: ${params.trees} trees, depth ${params.maxDepth}, learning rate ${params.learningRate}, lambda ${params.lambda}, min child weight ${params.minChildWeight}, ${params.maxBins + 1} bins, 1 thread\n`);

  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const xgbOut = path.join(dir, 'xgb.txt');
  const xgbRun = spawnSync(python, [path.join(ROOT, 'scripts/bench/xgboost_train.py'), trainFile, testFile, xgbOut, JSON.stringify({ ...params, maxBins: params.maxBins + 1 })], { encoding: 'utf8' });
  if (xgbRun.status !== 0) throw new Error(`XGBoost side failed (is Debian's python3-xgboost installed?):\n${xgbRun.stderr}`);
  const xgb = JSON.parse(xgbRun.stdout.trim().split('\n').pop()!);
  const xgbScores = fs.readFileSync(xgbOut, 'utf8').trim().split('\n').map(Number);

  const oursOut = path.join(dir, 'ours.txt');
  const ours = JSON.parse(execFileSync(process.execPath, [__filename, '--our-side', trainFile, testFile, oursOut], { encoding: 'utf8' }));
  const ourScores = fs.readFileSync(oursOut, 'utf8').split('\n').map(Number);

  const scorer = await OnnxScorer.load(fs.readFileSync(`${oursOut}.onnx`), { features: anonymous(spec.features.length) });
  const onnx = await scorer.scoreDataset(test);
  await scorer.release();
  let parity = 0;
  for (let i = 0; i < onnx.length; i++) parity = Math.max(parity, Math.abs(onnx[i] - ourScores[i]));

  const row = (name: string, r: { trainSeconds: number; cpuSeconds: number; peakRssMb: number }, s: number[]) =>
    `${name.padEnd(22)} ${r.trainSeconds.toFixed(2).padStart(8)} ${r.cpuSeconds.toFixed(2).padStart(8)} ${auc(labels, s).toFixed(4).padStart(8)} ${logLoss(labels, s).toFixed(4).padStart(9)} ${r.peakRssMb.toFixed(0).padStart(9)}`;
  console.log(`${'trainer'.padEnd(22)} ${'train s'.padStart(8)} ${'cpu s'.padStart(8)} ${'AUC'.padStart(8)} ${'log loss'.padStart(9)} ${'peak MB'.padStart(9)}`);
  console.log(row('ai-factory gbdt', ours, ourScores));
  console.log(row(`xgboost ${xgb.version} hist`, xgb, xgbScores));
  const ratio = ours.trainSeconds / xgb.trainSeconds;
  const aucDelta = auc(labels, ourScores) - auc(labels, xgbScores);
  console.log(`\ntrain time ratio (ours / xgboost): ${ratio.toFixed(2)}x   target <= 2.00x: ${verdict(ratio <= 2)}`);
  console.log(`AUC difference (ours - xgboost):   ${aucDelta >= 0 ? '+' : ''}${aucDelta.toFixed(4)}   target >= 0: ${verdict(aucDelta >= 0)}`);
  console.log(`ONNX parity (max |onnxruntime - ours| over ${onnx.length} test rows): ${parity.toExponential(2)}   target <= 1e-5: ${verdict(parity <= 1e-5)}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
