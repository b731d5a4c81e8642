import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildParquetSnapshot, columnStats, snapshotColumns } from '../../data/parquet';
import { toDataset } from '../../ml/dataset';
import { withCodesInput } from '../../ml/onnx/codes-input';
import { runTrainer } from '../../ml/trainers';
import { OnnxScorer } from '../../ml/scoring';
import { readSnapshot, readSnapshotRows } from '../../ml/snapshot';
import { fromCanonicalCsv, toCanonicalCsv, validateBatch, type BatchRow } from '../../specs/data-batch';
import { encodeValue, OTHER_MARKER } from '../../specs/feature-encoding';
import { parseModelSpec, rowKeyColumn } from '../../specs/model-spec';
import { toySpec } from './toy-spec';

const spec = parseModelSpec({
  ...toySpec,
  features: [
    ...toySpec.features,
    { name: 'workclass', type: 'category', values: ['Private', 'Self-emp-not-inc', 'State-gov'], unknown: 'other' },
    { name: 'sex', type: 'category', values: ['female', 'male'] },
  ],
  validation: { missingValues: 'allow' },
  trainer: { kind: 'gbdt', trees: 30, earlyStoppingRounds: 0 },
});

/** Rows whose label depends on the strings, so a model that mis-encodes them scores differently. */
function synthetic(n: number): string {
  const lines = ['id,age,amount,workclass,sex,y'];
  const classes = ['Private', 'Self-emp-not-inc', 'State-gov', 'Never-worked', ''];
  for (let i = 0; i < n; i++) {
    const w = classes[i % 5];
    const sex = i % 3 === 0 ? 'female' : 'male';
    const y = (w === 'State-gov' || (w === 'Never-worked' && sex === 'female') || i % 11 === 0) ? 1 : 0;
    lines.push(`${i},${20 + (i % 50)},${(i * 37) % 1000},${w},${sex},${y}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('string categories', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strings-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const batch = validateBatch(spec, synthetic(2000));

  test('cells are kept as the strings they are; an unlisted value is kept where unknown is "other", an error where it is not', () => {
    expect(batch.errors).toEqual([]);
    expect(batch.rows[3].features.slice(2)).toEqual(['Never-worked', 'female']);
    expect(batch.rows[4].features[2]).toBeNaN();
    const strict = validateBatch(spec, 'id,age,amount,workclass,sex,y\n1,30,5,Private,divers,0\n');
    expect(strict.errors).toEqual([{ line: 2, column: 'sex', value: 'divers', message: 'must be one of "female", "male"' }]);
  });

  test('the spec names a mixed or repeated value list', () => {
    const feature = (values: unknown[]) => ({ ...toySpec, features: [...toySpec.features, { name: 'c', type: 'category', values }] });
    expect(() => parseModelSpec(feature([1, 'a']))).toThrow('spec.features.2.values: category values must be all integers or all strings');
    expect(() => parseModelSpec(feature(['a', 'a']))).toThrow('spec.features.2.values: a category value is listed twice');
    expect(() => parseModelSpec(feature(['a', ' ']))).toThrow('spec.features.2.values.1: a category value must not be empty');
  });

  test('the stored CSV and the snapshot keep the strings; the dataset holds their codes, "other" after the listed ones', async () => {
    const stored = toCanonicalCsv(spec, batch.rows);
    expect(fromCanonicalCsv(spec, stored)).toEqual(batch.rows);
    const file = path.join(dir, 'b.csv');
    fs.writeFileSync(file, stored);
    const out = path.join(dir, 's.parquet');
    await buildParquetSnapshot({ batchCsvPaths: [file], columns: snapshotColumns(spec), outPath: out, orderBy: rowKeyColumn(spec) });
    const byId = new Map(batch.rows.map((r) => [r.id, r]));
    const rows = await readSnapshotRows(out, spec);
    expect(rows).toEqual(rows.map((r) => byId.get(r.id)));
    const d = await readSnapshot(out, spec);
    expect(d).toEqual(toDataset(rows, spec));
    const workclass = spec.features[2];
    expect(['Private', 'State-gov', 'Never-worked'].map((v) => encodeValue(workclass, v))).toEqual([0, 2, 3]);
    const stats = await columnStats(out, snapshotColumns(spec).filter((c) => c.name === 'workclass'));
    expect(stats.workclass).toMatchObject({ missingRate: 0.2, min: null, max: null });
  });

  test('the ONNX model takes the raw strings and encodes them itself, matching the trainer within 1e-5', async () => {
    const d = toDataset(batch.rows, spec);
    const model = runTrainer({ spec, params: spec.trainer, train: d, validation: toDataset([], spec), onProgress: () => undefined });
    const reference = model.predict(d);
    const scorer = await OnnxScorer.load(model.onnx, spec);
    const viaScorer = await scorer.scoreDataset(d);
    await scorer.release();
    // Straight into ONNX Runtime with the strings as the data holds them, as an edge device or another runtime would.
    const session = await ort.InferenceSession.create(model.onnx);
    expect(session.inputNames).toEqual(['features', 'categories']);
    const raw = (r: BatchRow) => r.features.slice(2).map((v) => (typeof v === 'string' ? v : ''));
    const out = await session.run({
      features: new ort.Tensor('float32', Float32Array.from(batch.rows.flatMap((r) => r.features.slice(0, 2) as number[])), [d.rows, 2]),
      categories: new ort.Tensor('string', batch.rows.flatMap(raw), [d.rows, 2]),
    });
    await session.release();
    const direct = out.probability.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < d.rows; i++) worst = Math.max(worst, Math.abs(direct[i] - reference[i]), Math.abs(viaScorer[i] - reference[i]));
    expect(worst).toBeLessThan(1e-5);
    // The strings matter: State-gov rows are positive, Private ones mostly not.
    const mean = (w: string) => {
      const at = batch.rows.flatMap((r, i) => (r.features[2] === w ? [i] : []));
      return at.reduce((s, i) => s + direct[i], 0) / at.length;
    };
    expect(mean('State-gov')).toBeGreaterThan(0.9);
    expect(mean('Private')).toBeLessThan(0.2);
    expect(OTHER_MARKER.trim()).not.toBe(OTHER_MARKER);
  });

  test('the scorer feeds codes where the graph encodes them as the spec does, and strings once the spec lists other values', async () => {
    const d = toDataset(batch.rows, spec);
    const model = runTrainer({ spec, params: spec.trainer, train: d, validation: toDataset([], spec), onProgress: () => undefined });
    const reference = model.predict(d);
    const codes = withCodesInput(model.onnx, spec.features);
    expect(codes).toBeDefined();
    const session = await ort.InferenceSession.create(codes!);
    expect(session.inputNames).toEqual(['encoded']);
    await session.release();
    // The same values listed in another order give other codes: the graph's own table must do the encoding then.
    const reordered = parseModelSpec({ ...spec, features: spec.features.map((f) => (f.name === 'workclass' ? { ...f, values: ['State-gov', 'Private', 'Self-emp-not-inc'] } : f)) });
    expect(withCodesInput(model.onnx, reordered.features)).toBeUndefined();
    expect(withCodesInput(model.onnx.subarray(0, 100), spec.features)).toBeUndefined();
    for (const s of [spec, reordered]) {
      const scorer = await OnnxScorer.load(model.onnx, s);
      const scores = await scorer.scoreDataset(toDataset(batch.rows, s));
      await scorer.release();
      let worst = 0;
      for (let i = 0; i < d.rows; i++) worst = Math.max(worst, Math.abs(scores[i] - reference[i]));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  test('categories split by sets of values: one depth-1 tree separates interleaved values a threshold on their codes cannot', async () => {
    const colours = ['red', 'orange', 'yellow', 'green', 'blue', 'indigo', 'violet', 'grey'];
    const warm = new Set(['red', 'yellow', 'blue', 'violet']);
    const s = parseModelSpec({ ...toySpec, features: [{ name: 'colour', type: 'category', values: colours }], trainer: { kind: 'gbdt', trees: 1, maxDepth: 1, learningRate: 1, earlyStoppingRounds: 0 } });
    const rows = Array.from({ length: 800 }, (_, i) => ({ id: String(i), label: warm.has(colours[i % 8]) ? 1 : 0, features: [colours[i % 8]] }));
    const d = toDataset(rows, s);
    const model = runTrainer({ spec: s, params: s.trainer, train: d, validation: toDataset([], s), onProgress: () => undefined });
    const p = model.predict(d);
    for (let i = 0; i < 8; i++) expect(p[i] > 0.5).toBe(warm.has(colours[i]));
    const scorer = await OnnxScorer.load(model.onnx, s);
    const onnx = await scorer.scoreDataset(d);
    await scorer.release();
    for (let i = 0; i < 8; i++) expect(Math.abs(onnx[i] - p[i])).toBeLessThan(1e-6);
    // A code the model never saw (99) and a missing value take the same branch in the trainer and in ONNX Runtime.
    const odd = { ...toDataset(rows.slice(0, 2), s), x: Float64Array.of(99, NaN) };
    const again = await OnnxScorer.load(model.onnx, s);
    const oddScores = await again.scoreDataset(odd);
    await again.release();
    const reference = model.predict(odd);
    expect(Math.abs(oddScores[0] - reference[0])).toBeLessThan(1e-6);
    expect(Math.abs(oddScores[1] - reference[1])).toBeLessThan(1e-6);
    expect(reference[0]).toBeLessThan(0.5);
  });
});

