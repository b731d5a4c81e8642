import fs from 'node:fs';
import path from 'node:path';
import { loadEnv } from '../../config/env';
import { splitDataset, toDataset } from '../../ml/dataset';
import { decodeCheckpoint, encodeCheckpoint } from '../../ml/gbdt/checkpoint';
import { objectiveOf } from '../../ml/gbdt/objectives';
import { fitGbdt, predictGbdt } from '../../ml/gbdt/train';
import { measure } from '../../ml/measure';
import { OnnxScorer } from '../../ml/scoring';
import { runTrainer } from '../../ml/trainers';
import { fromCanonicalCsv, toCanonicalCsv, validateBatch } from '../../specs/data-batch';
import { gbdtSchema, parseModelSpec, type ModelSpec } from '../../specs/model-spec';
import { toySpec } from './toy-spec';

const shared = path.join(loadEnv().FACTORY_SHARED_DIR, 'data');
const wineFeatures = ['fixed acidity', 'volatile acidity', 'citric acid', 'residual sugar', 'chlorides', 'free sulfur dioxide', 'total sulfur dioxide', 'density', 'pH', 'sulphates', 'alcohol'];

const wine = (task: 'multiclass-classification' | 'regression'): ModelSpec =>
  parseModelSpec({
    name: 'wine',
    task,
    label: task === 'regression' ? 'quality' : { column: 'quality', classes: [3, 4, 5, 6, 7, 8, 9] },
    features: wineFeatures.map((name) => ({ name, type: 'number' })),
    trainer: { kind: 'gbdt', trees: 60, earlyStoppingRounds: 0 },
    approval: { approvers: ['alice'] },
  });

const bike = parseModelSpec({
  name: 'bike',
  task: 'regression',
  idColumn: 'instant',
  label: { column: 'cnt', objective: 'poisson' },
  features: [
    { name: 'season', type: 'category', values: [1, 2, 3, 4] },
    { name: 'yr', type: 'integer' },
    { name: 'mnth', type: 'integer' },
    { name: 'hr', type: 'integer' },
    { name: 'holiday', type: 'integer' },
    { name: 'weekday', type: 'integer' },
    { name: 'workingday', type: 'integer' },
    { name: 'weathersit', type: 'category', values: [1, 2, 3, 4] },
    ...['temp', 'atemp', 'hum', 'windspeed'].map((name) => ({ name, type: 'number' })),
  ],
  trainer: { kind: 'gbdt', trees: 80, earlyStoppingRounds: 0 },
  approval: { approvers: ['alice'] },
});

async function trainAndCompare(spec: ModelSpec, csv: string) {
  const { rows, errors } = validateBatch(spec, csv);
  expect(errors).toEqual([]);
  const parts = splitDataset(toDataset(rows, spec), spec.split);
  const model = runTrainer({ spec, params: spec.trainer, train: parts.train, validation: parts.validation, onProgress: () => undefined });
  const reference = model.predict(parts.test);
  const scorer = await OnnxScorer.load(model.onnx, spec);
  const onnx = await scorer.scoreDataset(parts.test);
  await scorer.release();
  let worst = 0;
  for (let i = 0; i < onnx.length; i++) worst = Math.max(worst, Math.abs(onnx[i] - reference[i]) / Math.max(1, Math.abs(reference[i])));
  return { test: parts.test, onnx, worst, measured: measure(spec, parts.test, onnx) };
}

describe('three tasks', () => {
  test('multiclass: softmax trees give class probabilities that ONNX Runtime reproduces, and beat the majority class', async () => {
    const spec = wine('multiclass-classification');
    const { onnx, worst, measured, test } = await trainAndCompare(spec, fs.readFileSync(path.join(shared, 'wine-quality/winequality-white.csv'), 'utf8'));
    expect(onnx.length).toBe(test.rows * 7);
    for (let i = 0; i < test.rows; i++) expect(onnx.subarray(i * 7, i * 7 + 7).reduce((s, p) => s + p, 0)).toBeCloseTo(1, 5);
    expect(worst).toBeLessThan(1e-5);
    const q = measured.quality;
    if (q.task !== 'multiclass') throw new Error('expected a multiclass quality');
    const majority = Math.max(...q.confusion.map((row) => row.reduce((s, v) => s + v, 0))) / q.rows;
    expect(q.accuracy).toBeGreaterThan(majority + 0.05);
    expect(q.logLoss).toBeLessThan(1.1);
    expect(q.perClass.map((c) => c.class)).toEqual(['3', '4', '5', '6', '7', '8', '9']);
    expect(Object.keys(measured.metrics).sort()).toEqual(['accuracy', 'logLoss', 'macroF1']);
  });

  test('regression: squared error on the wine score, Poisson on hourly rentals; ONNX within 1e-5 (relative) of the trainer', async () => {
    const w = await trainAndCompare(wine('regression'), fs.readFileSync(path.join(shared, 'wine-quality/winequality-white.csv'), 'utf8'));
    expect(w.worst).toBeLessThan(1e-5);
    if (w.measured.quality.task !== 'regression') throw new Error('expected a regression quality');
    // Predicting the mean scores RMSE about 0.89 on this data.
    expect(w.measured.quality.rmse).toBeLessThan(0.75);
    const b = await trainAndCompare(bike, fs.readFileSync(path.join(shared, 'bike-sharing/hour.csv'), 'utf8'));
    expect(b.worst).toBeLessThan(1e-5);
    if (b.measured.quality.task !== 'regression') throw new Error('expected a regression quality');
    expect(b.measured.quality.r2).toBeGreaterThan(0.85);
    expect(Math.min(...b.onnx)).toBeGreaterThan(0);
  });

  test('a multiclass run resumed from its checkpoint gives the same trees', () => {
    const spec = wine('multiclass-classification');
    const { rows } = validateBatch(spec, fs.readFileSync(path.join(shared, 'wine-quality/winequality-red.csv'), 'utf8'));
    const parts = splitDataset(toDataset(rows, spec), spec.split);
    const params = gbdtSchema.parse({ kind: 'gbdt', trees: 20, earlyStoppingRounds: 5 });
    const objective = objectiveOf(spec);
    const whole = fitGbdt(parts.train, parts.validation, params, { objective });
    let saved: string | undefined;
    fitGbdt(parts.train, parts.validation, { ...params, trees: 10 }, { objective, checkpointEvery: 5, onCheckpoint: (c) => (saved ??= encodeCheckpoint(c)) });
    const resumed = fitGbdt(parts.train, parts.validation, params, { objective, resume: decodeCheckpoint(saved!) });
    expect(decodeCheckpoint(saved!).trees).toHaveLength(5 * 7);
    expect(Array.from(predictGbdt(resumed, parts.test))).toEqual(Array.from(predictGbdt(whole, parts.test)));
  });

  test('labels are read as the task says, and bad ones are named', () => {
    const classes = validateBatch(wine('multiclass-classification'), 'fixed acidity,volatile acidity,citric acid,residual sugar,chlorides,free sulfur dioxide,total sulfur dioxide,density,pH,sulphates,alcohol,quality\n7,0.27,0.36,20.7,0.045,45,170,1.001,3,0.45,8.8,6\n7,0.27,0.36,20.7,0.045,45,170,1.001,3,0.45,8.8,10\n');
    expect(classes.errors).toEqual([{ line: 3, column: 'quality', value: '10', message: 'must be one of the classes 3, 4, 5, 6, 7, 8, 9 (label.classes)' }]);
    const header = 'instant,season,yr,mnth,hr,holiday,weekday,workingday,weathersit,temp,atemp,hum,windspeed,cnt';
    const counts = validateBatch(bike, `${header}\n1,1,0,1,0,0,6,0,1,0.24,0.28,0.81,0,-3\n2,1,0,1,0,0,6,0,1,0.24,0.28,0.81,0,many\n`);
    expect(counts.errors).toEqual([
      { line: 2, column: 'cnt', value: '-3', message: 'must be at least 0: a Poisson objective models counts (label.objective)' },
      { line: 3, column: 'cnt', value: 'many', message: 'is not a number' },
    ]);
  });

  test('the spec keeps each task to its own label, metrics and trainers', () => {
    const base = { name: 'm', features: [{ name: 'x', type: 'number' }], trainer: { kind: 'gbdt' }, approval: { approvers: ['alice'] } };
    expect(() => parseModelSpec({ ...base, task: 'multiclass-classification', label: 'y' })).toThrow('spec.label: a multiclass label lists its classes');
    expect(() => parseModelSpec({ ...base, task: 'regression', label: { column: 'y', positive: 1 } })).toThrow('spec.label.positive: belongs to a binary-classification label, not a regression one');
    expect(() => parseModelSpec({ ...base, task: 'regression', label: 'y', policy: { floors: { auc: 0.7 } } })).toThrow('spec.policy.floors.auc: is not measured for a regression model');
    expect(() => parseModelSpec({ ...base, task: 'regression', label: 'y', policy: { floors: { rmse: 70, rmes: 1 } } })).toThrow('rmes');
    expect(() => parseModelSpec({ ...base, task: 'regression', label: 'y', trainer: { kind: 'logistic-regression' } })).toThrow('spec.trainer.kind: logistic-regression trains binary-classification models');
    expect(() => parseModelSpec({ ...base, task: 'forecast', label: 'y' })).toThrow('spec.task: must be one of binary-classification, multiclass-classification, regression');
  });
});

describe('a time column', () => {
  const { idColumn: _, ...withoutId } = toySpec;
  const spec = parseModelSpec({ ...withoutId, task: 'regression', timeColumn: 'at', features: [{ name: 'x', type: 'number' }], trainer: { kind: 'gbdt' }, split: { test: 0.2, validation: 0.2 } });

  test('takes dates and ISO timestamps, names the cell that is neither, and keeps one spelling of each instant', () => {
    const ok = validateBatch(spec, 'at,x,y\n2012-10-01,1,2\n2012-10-01T13:30:00Z,2,3\n2012-10-01 14:00,3,4\n2012-10-01T16:00:00+02:00,4,5\n');
    expect(ok.errors).toEqual([]);
    expect(ok.rows.map((r) => new Date(r.time!).toISOString())).toEqual(['2012-10-01T00:00:00.000Z', '2012-10-01T13:30:00.000Z', '2012-10-01T14:00:00.000Z', '2012-10-01T14:00:00.000Z']);
    // Rows known by content: the same values at another time are another observation.
    expect(new Set(ok.rows.map((r) => r.id)).size).toBe(4);
    expect(fromCanonicalCsv(spec, toCanonicalCsv(spec, ok.rows))).toEqual(ok.rows);
    const bad = validateBatch(spec, 'at,x,y\n01/10/2012,1,2\n2012-02-30,1,2\n,1,2\n');
    expect(bad.errors.map((e) => [e.line, e.column, e.value, e.message])).toEqual([
      [2, 'at', '01/10/2012', 'is not a date (2012-10-01) or an ISO timestamp (2012-10-01T13:00:00Z)'],
      [3, 'at', '2012-02-30', 'is not a date (2012-10-01) or an ISO timestamp (2012-10-01T13:00:00Z)'],
      [4, 'at', '', 'is empty'],
    ]);
  });

  test('splits by time: the model trains on the past and is tested on the most recent rows', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `${new Date(Date.UTC(2012, 0, 1 + ((i * 37) % 100))).toISOString().slice(0, 10)},${i},${i}`);
    const { rows } = validateBatch(spec, `at,x,y\n${lines.join('\n')}\n`);
    const parts = splitDataset(toDataset(rows, spec), spec.split);
    expect([parts.train.rows, parts.validation.rows, parts.test.rows]).toEqual([60, 20, 20]);
    expect(Math.max(...parts.train.time!)).toBeLessThan(Math.min(...parts.validation.time!));
    expect(Math.max(...parts.validation.time!)).toBeLessThan(Math.min(...parts.test.time!));
  });
});
