import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CsvError, csvLine, readCsv, writeCsv } from '../../data/csv';
import { buildParquetSnapshot, readParquetColumns, snapshotColumns } from '../../data/parquet';
import { fromCanonicalCsv, toCanonicalCsv, validateBatch, type BatchRow } from '../../specs/data-batch';
import { parseModelSpec, rowKeyColumn } from '../../specs/model-spec';
import { toySpec } from './toy-spec';

const spec = parseModelSpec({ ...toySpec, validation: { missingValues: 'allow' } });

/** Ids a producer may well send: each passes validation, and each broke a CSV split or joined by hand. */
const IDS = ['a,b', 'say "hi"', 'two\nlines', 'cr\rinside', '"', 'plain'];
const upload = writeCsv([['id', 'age', 'amount', 'y'], ...IDS.map((id, i) => [id, 20 + i, i === 2 ? '' : i * 1.5, i % 2])]);

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csv-test-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the CSV writer and reader', () => {
  test('quote exactly the fields holding a comma, quote, CR or LF, doubling their quotes', () => {
    expect(csvLine(['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\r', 'sp ace', 1.5, NaN, -2])).toBe('plain,"a,b","say ""hi""","two\nlines","cr\r",sp ace,1.5,,-2');
    expect(csvLine([''])).toBe('""');
    expect(writeCsv([['a', 'b'], [1, 2]])).toBe('a,b\n1,2\n');
  });

  test('read back what they write, with the line each record ends on', () => {
    const records = [['id', 'note'], ['a,b', ''], ['say "hi"', 'two\nlines'], [''], ['"', 'x']];
    const read = readCsv(writeCsv(records));
    expect(read.map((r) => r.cells)).toEqual(records);
    expect(read.map((r) => r.line)).toEqual([1, 2, 4, 5, 6]);
  });

  test('a quote left open is a CsvError with its line', () => {
    const err = (() => {
      try {
        readCsv('id,y\n"a,1\n');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CsvError);
    expect(err).toMatchObject({ line: 2 });
  });
});

describe('ids with a comma, a quote or a line break', () => {
  let rows: BatchRow[];
  beforeAll(() => {
    const v = validateBatch(spec, upload);
    expect(v.errors).toEqual([]);
    rows = v.rows;
  });

  test('pass the batch parser as they were sent', () => {
    expect(rows.map((r) => r.id)).toEqual(IDS);
    expect(rows[2].features[1]).toBeNaN();
  });

  test('come back the same from the stored CSV, read here or as a batch again', () => {
    const stored = toCanonicalCsv(spec, rows);
    expect(fromCanonicalCsv(spec, stored)).toEqual(rows);
    expect(validateBatch(spec, stored)).toMatchObject({ errors: [], rows });
  });

  test('come back the same from the snapshot DuckDB builds of the stored CSV', async () => {
    const batch = path.join(dir, 'batch.csv');
    fs.writeFileSync(batch, toCanonicalCsv(spec, rows));
    const out = path.join(dir, 'snapshot.parquet');
    await buildParquetSnapshot({ batchCsvPaths: [batch], columns: snapshotColumns(spec), outPath: out, orderBy: rowKeyColumn(spec) });
    const read = await readParquetColumns(out, ['age', 'y'], [rowKeyColumn(spec)]);
    const ids = read.text[rowKeyColumn(spec)];
    expect([...ids].sort()).toEqual([...IDS].sort());
    for (const r of rows) {
      const at = ids.indexOf(r.id);
      expect([read.columns.age[at], read.columns.y[at]]).toEqual([r.features[0], r.label]);
    }
  });

  test('did not survive the CSV joined by hand that the stored one used to be', () => {
    const joined = [['id', 'age', 'amount', 'y'], ...rows.map((r) => [r.id, ...r.features.map((v) => (Number.isNaN(v) ? '' : v)), r.label])];
    const byHand = joined.map((cells) => cells.join(',')).join('\n') + '\n';
    expect(validateBatch(spec, byHand).rows).not.toEqual(rows);
  });
});
