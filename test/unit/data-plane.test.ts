import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { loadEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { checkAgainstSnapshot } from '../../data/batch-checks';
import { isParquet } from '../../data/format';
import { buildParquetSnapshot, columnStats, parquetToCsv, readParquetColumns, snapshotColumns } from '../../data/parquet';
import { splitDataset, toDataset } from '../../ml/dataset';
import { readSnapshot, readSnapshotRows } from '../../ml/snapshot';
import { splitRows } from '../../ml/split';
import { fromCanonicalCsv, toCanonicalCsv, validateBatch, type BatchRow } from '../../specs/data-batch';
import { parseModelSpec, rowKeyColumn, type ModelSpec } from '../../specs/model-spec';
import { labelColumn } from '../../specs/label';

const ROOT = path.resolve(__dirname, '../../..');
const raw = parse(fs.readFileSync(path.join(ROOT, 'models/credit-default.yaml'), 'utf8'));
const spec = parseModelSpec(raw);
const withMissing = (validation: Record<string, unknown> = {}) => parseModelSpec({ ...raw, validation: { missingValues: 'allow', ...validation } });
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

let dir: string;
let rows: BatchRow[];
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-plane-test-'));
  const head = creditDefaultText(loadEnv()).split('\n').slice(0, 401).join('\n');
  rows = validateBatch(spec, head).rows;
  expect(rows).toHaveLength(400);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeBatch(name: string, batch: BatchRow[], s: ModelSpec = spec): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, toCanonicalCsv(s, batch));
  return file;
}

async function snapshot(name: string, batches: string[], s: ModelSpec = spec): Promise<string> {
  const out = path.join(dir, name);
  await buildParquetSnapshot({ batchCsvPaths: batches, columns: snapshotColumns(s), outPath: out, orderBy: rowKeyColumn(s) });
  return out;
}

describe('Parquet snapshots of batches', () => {
  test('a later batch replaces an earlier row with the same id; the same batches give the same bytes', async () => {
    const first = writeBatch('first.csv', rows.slice(0, 200));
    const corrected = { ...rows[5], label: (1 - rows[5].label) as 0 | 1 };
    const second = writeBatch('second.csv', [...rows.slice(200, 300), corrected]);
    const a = await snapshot('a.parquet', [first, second]);
    const b = await snapshot('b.parquet', [first, second]);
    expect(sha256(b)).toBe(sha256(a));
    expect(fs.readFileSync(a).subarray(0, 4).toString()).toBe('PAR1');

    const key = rowKeyColumn(spec);
    const read = await readParquetColumns(a, [labelColumn(spec)], [key]);
    expect(read.rows).toBe(300);
    expect(read.text[key]).toEqual(rows.slice(0, 300).map((r) => r.id).sort());
    expect(read.columns[labelColumn(spec)][read.text[key].indexOf(corrected.id)]).toBe(corrected.label);
    // In the other order the earlier row wins instead: the order of ingestion is the rule.
    const reversed = await readParquetColumns(await snapshot('r.parquet', [second, first]), [labelColumn(spec)], [key]);
    expect(reversed.columns[labelColumn(spec)][reversed.text[key].indexOf(corrected.id)]).toBe(rows[5].label);
  });

  test('an id twice in one batch fails the build, naming it', async () => {
    const twice = writeBatch('twice.csv', [rows[0], rows[1], rows[0]]);
    await expect(snapshot('twice.parquet', [twice])).rejects.toThrow(`twice.csv: ID "${rows[0].id}" appears more than once`);
  });

  test('read back, split and as rows it is the data that went in, with missing values kept', async () => {
    const s = withMissing();
    const gappy = rows.map((r, i) => (i % 7 === 0 ? { ...r, features: r.features.map((v, j) => (j === 11 ? NaN : v)) } : r));
    const file = await snapshot('gappy.parquet', [writeBatch('gappy.csv', gappy, s)], s);
    const d = await readSnapshot(file, s);
    const byId = new Map(gappy.map((r) => [r.id, r]));
    expect(await readSnapshotRows(file, s)).toEqual(d.ids.map((id) => byId.get(id)));
    // The split is the id-hash split, whatever the row order.
    const parts = splitDataset(d, s.split);
    const expected = splitRows([...gappy].sort((x, y) => (x.id < y.id ? -1 : 1)), s.split);
    for (const name of ['train', 'validation', 'test'] as const) expect(parts[name]).toEqual(toDataset(expected[name], s));
    const stats = await columnStats(file, [{ name: 'BILL_AMT1', type: 'DOUBLE' }]);
    expect(stats.BILL_AMT1.missingRate).toBeCloseTo(Math.ceil(400 / 7) / 400, 12);
  });
});

describe('Parquet batches', () => {
  test('are recognised by their magic bytes and read into CSV for the batch validator', async () => {
    const file = await snapshot('upload.parquet', [writeBatch('upload.csv', rows.slice(0, 50))]);
    const bytes = fs.readFileSync(file);
    expect(isParquet(bytes)).toBe(true);
    expect(isParquet(Buffer.from('PAR1,ID\n1,2\n'))).toBe(false);
    const v = validateBatch(spec, await parquetToCsv(file, path.join(dir, 'upload-back.csv')));
    expect(v.errors).toEqual([]);
    expect(v.rows).toEqual([...rows.slice(0, 50)].sort((x, y) => (x.id < y.id ? -1 : 1)));
  });
});

describe('batch validation', () => {
  const csv = (batch: BatchRow[]) => toCanonicalCsv(spec, batch);

  test('empty feature cells are missing values only where the spec allows them', () => {
    const text = csv(rows.slice(0, 3)).replace(/\n(\d+),(\d+),/, '\n$1,,');
    expect(validateBatch(spec, text).errors).toEqual([{ line: 2, column: 'LIMIT_BAL', value: '', message: 'is empty' }]);
    const allowed = validateBatch(withMissing(), text);
    expect(allowed.errors).toEqual([]);
    expect(allowed.rows[0].features[0]).toBeNaN();
    expect(fromCanonicalCsv(spec, toCanonicalCsv(spec, allowed.rows))).toEqual(allowed.rows);
    // A present value still obeys its rules.
    expect(validateBatch(withMissing(), text.replace(/\n(\d+),,([a-z]+),/, '\n$1,,divers,')).errors).toEqual([{ line: 2, column: 'SEX', value: 'divers', message: 'must be one of "male", "female"' }]);
  });

  test('a column that turned to text is named once, ahead of its cell errors', () => {
    const lines = csv(rows.slice(0, 5)).trim().split('\n');
    const text = [lines[0], ...lines.slice(1).map((l) => l.replace(/^((?:[^,]*,){5})[^,]*,/, '$1thirty,'))].join('\n');
    const { errors } = validateBatch(spec, text);
    expect(errors[0]).toEqual({ column: 'AGE', message: 'holds text where a number is expected: 5 of its 5 values are not numbers' });
    expect(errors.slice(1)).toHaveLength(5);
    expect(errors[1]).toEqual({ line: 2, column: 'AGE', value: 'thirty', message: 'is not a number' });
  });

  test('a column missing far more often than in the snapshot quarantines the batch, naming both rates', () => {
    const s = withMissing({ maxOutOfRangeShare: 0.1 });
    const stats = { BILL_AMT1: { rows: 100, missingRate: 0.05, min: -10, max: 10, mean: 0, std: 1 } };
    const j = s.features.findIndex((f) => f.name === 'BILL_AMT1');
    const batch = (missing: number, outside: number) =>
      Array.from({ length: 100 }, (_, i): BatchRow => ({ id: String(i), label: 0, features: s.features.map((_, k) => (k !== j ? 1 : i < missing ? NaN : i < missing + outside ? 50 : 0)) }));
    const reference = { sha256: 'ab'.repeat(32), stats };
    expect(checkAgainstSnapshot(s, batch(24, 0), reference)).toEqual([]);
    expect(checkAgainstSnapshot(s, batch(26, 0), reference)).toEqual([
      {
        column: 'BILL_AMT1',
        message: 'missing in 26.0% of rows (26 of 100) against 5.0% in training snapshot abababababab: a rise of more than 20.0% (validation.maxMissingRateIncrease)',
      },
    ]);
    expect(checkAgainstSnapshot(s, batch(0, 20), reference)).toEqual([
      {
        column: 'BILL_AMT1',
        message: '20.0% of its values (20 of 100) lie outside [-10, 10], the range in training snapshot abababababab: more than 10.0% (validation.maxOutOfRangeShare)',
      },
    ]);
    // Out-of-range is off unless the spec sets it.
    expect(checkAgainstSnapshot(withMissing(), batch(0, 20), reference)).toEqual([]);
  });
});
