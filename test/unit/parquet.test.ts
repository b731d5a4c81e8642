import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { loadEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { buildParquetSnapshot, columnStats, readParquetColumns, snapshotColumns, type SnapshotColumn } from '../../data/parquet';
import { toCanonicalCsv, validateBatch, type BatchRow } from '../../specs/data-batch';
import { parseModelSpec, rowKeyColumn } from '../../specs/model-spec';
import { labelColumn } from '../../specs/label';

const ROOT = path.resolve(__dirname, '../../..');
const spec = parseModelSpec(parse(fs.readFileSync(path.join(ROOT, 'models/credit-default.yaml'), 'utf8')));
const columns = snapshotColumns(spec);
const numeric = columns.filter((c) => c.type !== 'VARCHAR').map((c) => c.name);
const text = columns.filter((c) => c.type === 'VARCHAR').map((c) => c.name);
const TOY: SnapshotColumn[] = [{ name: 'id', type: 'VARCHAR' }, { name: 'x', type: 'DOUBLE' }, { name: 'y', type: 'BIGINT' }];

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Relative closeness: SQL and JS sum in different orders, so the last bits may differ. */
function expectClose(actual: number | null, expected: number) {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

describe('Parquet snapshots', () => {
  let dir: string;
  let rows: BatchRow[];
  let batches: string[];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parquet-test-'));
    const head = creditDefaultText(loadEnv()).split('\n').slice(0, 301).join('\n');
    const v = validateBatch(spec, head);
    expect(v.errors).toEqual([]);
    rows = v.rows;
    batches = [0, 1, 2].map((b) => {
      const file = path.join(dir, `batch-${b}.csv`);
      fs.writeFileSync(file, toCanonicalCsv(spec, rows.slice(b * 100, (b + 1) * 100)));
      return file;
    });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const build = (batchCsvPaths: string[], outPath: string, cols = columns, orderBy = rowKeyColumn(spec)) =>
    buildParquetSnapshot({ batchCsvPaths, columns: cols, outPath, orderBy });

  test('every row and value comes back exactly, ordered by the ID', async () => {
    const out = path.join(dir, 'snapshot.parquet');
    const built = await build(batches, out);
    expect(built).toEqual({ rows: 300, bytes: fs.statSync(out).size });

    const read = await readParquetColumns(out, numeric, text);
    expect(read.rows).toBe(300);
    const ids = read.text[rowKeyColumn(spec)] as string[];
    // The ID is text, so "10" sorts before "2".
    expect(ids).toEqual(rows.map((r) => r.id).sort());
    const byId = new Map(rows.map((r) => [r.id, r]));
    spec.features.forEach((f, j) => {
      expect(read.text[f.name] ?? Array.from(read.columns[f.name])).toEqual(ids.map((id) => byId.get(id)!.features[j]));
    });
    expect(Array.from(read.columns[labelColumn(spec)])).toEqual(ids.map((id) => byId.get(id)!.label));
  });

  test('the same rows give the same bytes, whatever the order of the batches', async () => {
    const a = path.join(dir, 'a.parquet');
    const b = path.join(dir, 'b.parquet');
    await build(batches, a);
    await build([...batches].reverse(), b);
    expect(sha256(b)).toBe(sha256(a));
  });

  test('column statistics match those computed here', async () => {
    const out = path.join(dir, 'stats.parquet');
    await build(batches, out);
    const names = ['LIMIT_BAL', 'AGE', 'BILL_AMT1', 'PAY_0', labelColumn(spec)];
    const stats = await columnStats(out, columns.filter((c) => names.includes(c.name)));
    for (const name of names) {
      const j = spec.features.findIndex((f) => f.name === name);
      const values = rows.map((r) => (j < 0 ? r.label : (r.features[j] as number)));
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      const s = stats[name];
      expect(s).toMatchObject({ rows: 300, missingRate: 0, min: Math.min(...values), max: Math.max(...values) });
      expectClose(s.mean, mean);
      expectClose(s.std, std);
    }
  });

  test('a missing value is NaN when read and counts in the missing rate', async () => {
    const csv = path.join(dir, 'gaps.csv');
    fs.writeFileSync(csv, 'id,x,y\na,2.5,0\nb,,1\nc,-1,1\n');
    const out = path.join(dir, 'gaps.parquet');
    await build([csv], out, TOY, 'id');
    expect(Array.from((await readParquetColumns(out, ['x'])).columns.x)).toEqual([2.5, NaN, -1]);
    const { x } = await columnStats(out, [{ name: 'x', type: 'DOUBLE' }]);
    expect(x).toMatchObject({ rows: 3, missingRate: 1 / 3, min: -1, max: 2.5, mean: 0.75, std: 1.75 });
  });

  test('paths with a single quote are data, not SQL', async () => {
    const quoted = path.join(dir, "it's here");
    fs.mkdirSync(quoted);
    const csv = path.join(quoted, "o'brien.csv");
    fs.writeFileSync(csv, 'id,x,y\na,0.1,0\n');
    const out = path.join(quoted, "snap'shot.parquet");
    expect((await build([csv], out, TOY, 'id')).rows).toBe(1);
    expect((await readParquetColumns(out, ['x', 'y'])).columns).toEqual({ x: Float64Array.of(0.1), y: Float64Array.of(0) });
    expect((await columnStats(out, [{ name: 'x', type: 'DOUBLE' }])).x.mean).toBe(0.1);
  });

  test('a cell that is not of its column type fails the build instead of being coerced', async () => {
    const write = (name: string, text: string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      return file;
    };
    const good = write('good.csv', 'id,x,y\na,1,0\n');
    const out = path.join(dir, 'bad.parquet');
    await expect(build([good, write('text.csv', 'id,x,y\nb,abc,0\n')], out, TOY, 'id')).rejects.toThrow(/"abc"/);
    // DuckDB's own casts would round this to 1 and read "inf" as Infinity.
    await expect(build([write('fraction.csv', 'id,x,y\nb,1,0.5\n')], out, TOY, 'id')).rejects.toThrow(/column y holds "0\.5", not a BIGINT/);
    await expect(build([write('inf.csv', 'id,x,y\nb,inf,0\n')], out, TOY, 'id')).rejects.toThrow(/inf\.csv: column x holds "inf"/);
    await expect(build([write('swapped.csv', 'id,y,x\nb,0,1\n')], out, TOY, 'id')).rejects.toThrow(/header is "id,y,x"/);
  });
});
