/**
 * Benchmark: this project's GBDT vs XGBoost (Debian's python3-xgboost,
 * tree_method=hist, one thread, then two) per task, in one run, on the same splits of
 * the shipped data: credit-default (binary, string categories), bike-sharing
 * (regression, split by time) and white wine (multiclass). Both sides read
 * the same numbers (a category as its code); ours splits categories by sets
 * of values, as it trains them in the factory. Prints train time
 * and its ratio, the task's quality figures, peak memory, ONNX parity of
 * our model, and with two threads each side's time and whether our model is
 * the same bytes.
 *
 *   node dist/scripts/bench/gbdt.js [--trees 200] [--depth 6] [--repeat 3] [--threads 2] [--cases credit-default,bike-sharing,wine-quality]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnv, sharedText } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { writeCsv } from '../../data/csv';
import { toDataset, type Dataset } from '../../ml/dataset';
import { objectiveOf, type Objective } from '../../ml/gbdt/objectives';
import { auc, logLoss } from '../../ml/metrics';
import { prng } from '../../ml/random';
import { OnnxScorer } from '../../ml/scoring';
import { validateBatch, type BatchRow } from '../../specs/data-batch';
import { gbdtSchema, type ModelSpec } from '../../specs/model-spec';
import { labelClasses } from '../../specs/label';
import { multiclassQuality, regressionQuality } from '../../ml/task-quality';
import { anonymous, type SideJob } from './gbdt-side';
import { arg, runMain, say } from './kit/cli';
import { ROOT, shippedSpec } from './kit/repo';
import { verdict } from './kit/cli';

const SEED = 20_260_101;
/** Each side trains this many times, the two alternating; a figure is its side's median (this machine's speed moves from one run to the next). */
const REPEAT = Number(arg('repeat', '3'));
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
  for (const label of [...new Set(rows.map((r) => r.label))].sort((a, b) => a - b)) {
    const cls = shuffle(rows.filter((r) => r.label === label), SEED + label);
    const cut = Math.round(cls.length * 0.2);
    test.push(...cls.slice(0, cut));
    train.push(...cls.slice(cut));
  }
  return { train, test };
}

/** Label first, then the encoded features (string categories as their codes, specs/feature-encoding.ts): what both sides read. */
const toCsv = (d: Dataset) => writeCsv(d.ids.map((_, i) => [d.y[i], ...d.x.subarray(i * d.features, (i + 1) * d.features)]));

/** The XGBoost objective of each of ours. */
const XGB_OBJECTIVE: Record<Objective['name'], string> = { logistic: 'binary:logistic', softmax: 'multi:softprob', 'squared-error': 'reg:squarederror', poisson: 'count:poisson' };

interface Side {
  trainSeconds: number;
  cpuSeconds: number;
  peakRssMb: number;
}

/** Threads for the two-thread rows (both sides). */
const THREADS = Number(arg('threads', '2'));

/** XGBoost on the given files, in its own process, with `threads` as its nthread. */
function xgboostSide(spec: ModelSpec, trainFile: string, testFile: string, outFile: string, threads: number): Side & { version: string } {
  const objective = objectiveOf(spec);
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const xgbParams = { ...params, threads, maxBins: params.maxBins + 1, objective: XGB_OBJECTIVE[objective.name], classes: objective.outputs > 1 ? objective.outputs : undefined };
  const run = spawnSync(python, [path.join(ROOT, 'scripts/bench/xgboost_train.py'), trainFile, testFile, outFile, JSON.stringify(xgbParams)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`XGBoost side failed (is Debian's python3-xgboost installed? apt-get install python3-xgboost):\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Side & { version: string };
}

/** Ours on the given files, in its own process (gbdt-side.ts). */
function ourSideOf(spec: ModelSpec, trainFile: string, testFile: string, outFile: string, threads: number): Side {
  const job: SideJob = { params: { ...params, threads }, task: spec.task, label: spec.label, categorical: spec.features.map((f) => f.type === 'category') };
  return JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'gbdt-side.js'), trainFile, testFile, outFile, JSON.stringify(job)], { encoding: 'utf8' })) as Side;
}

/** Both sides on the same files with the same threads, alternating REPEAT times; each side's figures are the medians of its runs. */
function sideBySide(spec: ModelSpec, trainFile: string, testFile: string, oursOut: string, xgbOut: string, threads = 1): { ours: Side; xgb: Side & { version: string } } {
  const ours: Side[] = [];
  const xgb: (Side & { version: string })[] = [];
  for (let i = 0; i < REPEAT; i++) {
    xgb.push(xgboostSide(spec, trainFile, testFile, xgbOut, threads));
    ours.push(ourSideOf(spec, trainFile, testFile, oursOut, threads));
  }
  const median = (runs: Side[]): Side => {
    const of = (key: keyof Side) => runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    return { trainSeconds: of('trainSeconds'), cpuSeconds: of('cpuSeconds'), peakRssMb: of('peakRssMb') };
  };
  return { ours: median(ours), xgb: { ...median(xgb), version: xgb[0].version } };
}

/** The training rows `times` over, each copy after the first with its numbers moved by up to ±1% (seeded), so the copies bin apart. */
function repeatedWithNoise(d: Dataset, times: number, categorical: boolean[]): Dataset {
  const random = prng(SEED);
  const x = new Float64Array(d.x.length * times);
  const y = new Float64Array(d.rows * times);
  for (let c = 0; c < times; c++) {
    for (let i = 0; i < d.x.length; i++) {
      const v = d.x[i];
      x[c * d.x.length + i] = c === 0 || categorical[i % d.features] || Number.isNaN(v) ? v : v * (1 + 0.02 * (random() - 0.5));
    }
    y.set(d.y, c * d.rows);
  }
  return { ids: Array.from({ length: d.rows * times }, (_, i) => String(i)), x, y, rows: d.rows * times, features: d.features };
}

/** Training time against the number of rows: the comparison's training (1×), and 4× its rows (repeated with noise), both sides. */
function scaling(c: Case, dir: string, once: Compared): boolean {
  const { spec } = c;
  const { train, testFile, ours: ours1, xgb: xgb1 } = once;
  const bigFile = path.join(dir, `${spec.name}-train-x4.csv`);
  fs.writeFileSync(bigFile, toCsv(repeatedWithNoise(train, 4, spec.features.map((f) => f.type === 'category'))));
  const out = path.join(dir, `${spec.name}-scaling.txt`);
  const { ours: ours4, xgb: xgb4 } = sideBySide(spec, bigFile, testFile, out, out);
  const ratio = ours4.trainSeconds / ours1.trainSeconds;
  say(`\nscaling (${spec.name}): ${train.rows} rows vs ${4 * train.rows} (the same rows 4×, numbers moved by up to ±1%)`);
  say(`trainer                  1× s     4× s    ratio`);
  say(`${'ai-factory gbdt'.padEnd(22)} ${ours1.trainSeconds.toFixed(2).padStart(7)} ${ours4.trainSeconds.toFixed(2).padStart(8)} ${ratio.toFixed(2).padStart(7)}x`);
  say(`${'xgboost hist'.padEnd(22)} ${xgb1.trainSeconds.toFixed(2).padStart(7)} ${xgb4.trainSeconds.toFixed(2).padStart(8)} ${(xgb4.trainSeconds / xgb1.trainSeconds).toFixed(2).padStart(7)}x`);
  say(`4× the rows costs ${ratio.toFixed(2)}× the time   target <= 4.4x: ${verdict(ratio <= 4.4)}`);
  return ratio <= 4.4;
}

/** One comparison: a shipped spec's data, split as its task is judged, trained by both sides with the same parameters and objective. */
interface Case {
  title: string;
  spec: ModelSpec;
  split: { train: BatchRow[]; test: BatchRow[] };
  splitNote: string;
  /** The task's figures on held-out predictions; the first one is the target. */
  figures: (y: number[], p: number[]) => { name: string; value: number; better: 'higher' | 'lower' }[];
}

/** A comparison's verdicts, and what the scaling row reuses of it: the training data, the test file, both sides' runs. */
interface Compared {
  quality: boolean;
  cost: boolean;
  threads: boolean;
  train: Dataset;
  testFile: string;
  ours: Side;
  xgb: Side;
}

async function compare(c: Case, dir: string): Promise<Compared> {
  const { spec, split } = c;
  const trainFile = path.join(dir, `${spec.name}-train.csv`);
  const testFile = path.join(dir, `${spec.name}-test.csv`);
  const train = toDataset(split.train, spec);
  const test = toDataset(split.test, spec);
  fs.writeFileSync(trainFile, toCsv(train));
  fs.writeFileSync(testFile, toCsv(test));
  const objective = objectiveOf(spec);
  say(`\n${c.title}: ${split.train.length} train / ${split.test.length} test rows (${c.splitNote}), ${spec.features.length} features, objective ${objective.name}`);

  const xgbOut = path.join(dir, `${spec.name}-xgb.txt`);
  const oursOut = path.join(dir, `${spec.name}-ours.txt`);
  const { ours, xgb } = sideBySide(spec, trainFile, testFile, oursOut, xgbOut);
  const xgbPredictions = fs.readFileSync(xgbOut, 'utf8').trim().split('\n').map(Number);
  const ourPredictions = fs.readFileSync(oursOut, 'utf8').split('\n').map(Number);

  const scorer = await OnnxScorer.load(fs.readFileSync(`${oursOut}.onnx`), { features: anonymous(spec.features.length), task: spec.task, label: spec.label });
  const onnx = await scorer.scoreDataset(test);
  await scorer.release();
  let parity = 0;
  for (let i = 0; i < onnx.length; i++) parity = Math.max(parity, Math.abs(onnx[i] - ourPredictions[i]) / Math.max(1, Math.abs(ourPredictions[i])));

  const y = split.test.map((r) => r.label);
  const mine = c.figures(y, ourPredictions);
  const theirs = c.figures(y, xgbPredictions);
  const cell = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(4)).padStart(10);
  say(`${'trainer'.padEnd(22)} ${'train s'.padStart(8)} ${'cpu s'.padStart(8)} ${mine.map((f) => f.name.padStart(10)).join(' ')} ${'peak MB'.padStart(9)}`);
  const row = (name: string, r: Side, f: typeof mine) => say(`${name.padEnd(22)} ${r.trainSeconds.toFixed(2).padStart(8)} ${r.cpuSeconds.toFixed(2).padStart(8)} ${f.map((x) => cell(x.value)).join(' ')} ${r.peakRssMb.toFixed(0).padStart(9)}`);
  row('ai-factory gbdt', ours, mine);
  row(`xgboost ${xgb.version} hist`, xgb, theirs);
  const [target, reference] = [mine[0], theirs[0]];
  const met = target.better === 'higher' ? target.value >= reference.value : target.value <= reference.value;
  const ratio = ours.trainSeconds / xgb.trainSeconds;
  say(`${target.name} (ours vs xgboost): ${cell(target.value).trim()} vs ${cell(reference.value).trim()}   target ${target.better === 'higher' ? '>=' : '<='} xgboost's: ${verdict(met)}`);
  const memory = ours.peakRssMb / xgb.peakRssMb;
  say(`train time ratio (ours / xgboost): ${ratio.toFixed(2)}x   target <= 1.0x: ${verdict(ratio <= 1)}   peak memory ratio: ${memory.toFixed(2)}x   target <= 1.0x: ${verdict(memory <= 1)}`);
  say(`ONNX parity (max |onnxruntime - ours| / max(1, |ours|) over ${onnx.length} test outputs): ${parity.toExponential(2)}   target <= 1e-5: ${verdict(parity <= 1e-5)}`);
  return { quality: met && parity <= 1e-5, cost: ratio <= 1 && memory <= 1, threads: threadsRow(c, trainFile, testFile, oursOut, ours), train, testFile, ours, xgb };
}

/** Both sides again with THREADS threads: our speedup over our single thread, against XGBoost's nthread, and whether our model is the same bytes. */
function threadsRow(c: Case, trainFile: string, testFile: string, oursOut: string, single: Side): boolean {
  const out = `${oursOut}-threads`;
  const { ours, xgb } = sideBySide(c.spec, trainFile, testFile, out, `${out}-xgb`, THREADS);
  const speedup = single.trainSeconds / ours.trainSeconds;
  const ratio = ours.trainSeconds / xgb.trainSeconds;
  const same = fs.readFileSync(`${out}.onnx`).equals(fs.readFileSync(`${oursOut}.onnx`));
  say(`${THREADS} threads: ours ${ours.trainSeconds.toFixed(2)} s (cpu ${ours.cpuSeconds.toFixed(2)} s), xgboost nthread=${THREADS} ${xgb.trainSeconds.toFixed(2)} s (cpu ${xgb.cpuSeconds.toFixed(2)} s); model bytes as with 1 thread: ${same ? 'yes' : 'NO'}`);
  say(`speedup over our 1 thread: ${speedup.toFixed(2)}x   target >= 1.7x: ${verdict(speedup >= 1.7)}   ours / xgboost (${THREADS} threads): ${ratio.toFixed(2)}x   target <= 1.0x: ${verdict(ratio <= 1)}`);
  return speedup >= 1.7 && ratio <= 1 && same;
}

const binaryFigures = (y: number[], p: number[]) => [
  { name: 'AUC', value: auc(y, p), better: 'higher' as const },
  { name: 'log loss', value: logLoss(y, p), better: 'lower' as const },
];
const regressionFigures = (y: number[], p: number[]) => {
  const q = regressionQuality(y, p);
  return [
    { name: 'RMSE', value: q.rmse, better: 'lower' as const },
    { name: 'MAE', value: q.mae, better: 'lower' as const },
    { name: 'R²', value: q.r2, better: 'higher' as const },
  ];
};
const multiclassFigures = (classes: (string | number)[]) => (y: number[], p: number[]) => {
  const q = multiclassQuality(y, p, classes);
  return [
    { name: 'log loss', value: q.logLoss, better: 'lower' as const },
    { name: 'accuracy', value: q.accuracy, better: 'higher' as const },
    { name: 'macro-F1', value: q.macroF1, better: 'higher' as const },
  ];
};

/** Bike-sharing is judged on a future it has not seen: everything before this day trains, everything from it tests. */
const BIKE_TEST_FROM = Date.parse('2012-10-01T00:00:00Z');

async function main(): Promise<void> {
  const env = loadEnv();
  const credit = shippedSpec();
  const bike = shippedSpec(undefined, 'bike-sharing');
  const wine = shippedSpec(undefined, 'wine-quality');
  const bikeRows = validateBatch(bike, sharedText(env, 'bike-sharing/hour.csv')).rows;
  const cases: Case[] = [
    {
      title: 'credit-default (binary; SEX, EDUCATION, MARRIAGE as strings, both sides given their codes)',
      spec: credit,
      split: stratified(validateBatch(credit, creditDefaultText(env)).rows),
      splitNote: `stratified 80/20, seed ${SEED}`,
      figures: binaryFigures,
    },
    {
      title: 'bike-sharing (regression, hourly rentals)',
      spec: bike,
      split: { train: bikeRows.filter((r) => r.time! < BIKE_TEST_FROM), test: bikeRows.filter((r) => r.time! >= BIKE_TEST_FROM) },
      splitNote: 'by time: train before 2012-10-01, test from then',
      figures: regressionFigures,
    },
    {
      title: 'wine-quality white (multiclass, 7 grades)',
      spec: wine,
      split: stratified(validateBatch(wine, sharedText(env, 'wine-quality/winequality-white.csv')).rows),
      splitNote: `stratified 80/20, seed ${SEED}`,
      figures: multiclassFigures(labelClasses(wine)!),
    },
  ];
  const only = arg('cases', '').split(',').filter(Boolean);
  say(`params: ${params.trees} rounds, depth ${params.maxDepth}, learning rate ${params.learningRate}, lambda ${params.lambda}, min child weight ${params.minChildWeight}, ${params.maxBins + 1} bins, 1 thread (then ${THREADS}), no early stopping; each side trained ${REPEAT} times, alternating, its medians shown`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gbdt-'));
  const results: Compared[] = [];
  let scales = true;
  try {
    const run = cases.filter((c) => only.length === 0 || only.includes(c.spec.name));
    for (const c of run) results.push(await compare(c, dir));
    // Printed last, as the comparison tables come first.
    if (run[0] === cases[0]) scales = scaling(cases[0], dir, results[0]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  say(`\nall quality and parity targets: ${verdict(results.every((r) => r.quality))}`);
  say(`all time and memory targets (single thread): ${verdict(results.every((r) => r.cost) && scales)}`);
  say(`all ${THREADS}-thread targets: ${verdict(results.every((r) => r.threads))}`);
}

runMain(main);
