import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildParquetSnapshot, snapshotColumns } from '../../data/parquet';
import { replayBatches } from '../../data/replay';
import { readSnapshot } from '../../ml/snapshot';
import { contentId, fromCanonicalCsv, toCanonicalCsv, validateBatch } from '../../specs/data-batch';
import { CONTENT_ID_COLUMN, parseModelSpec, rowKeyColumn } from '../../specs/model-spec';
import { labelColumn } from '../../specs/label';
import { toySpec } from './toy-spec';

const base = toySpec;
const { idColumn: _, ...withoutId } = base;
const positiveYes = parseModelSpec({ ...base, label: { column: 'y', positive: 'yes' } });
const byContent = parseModelSpec({ ...withoutId, label: { column: 'y', positive: 'yes' } });

describe('the label in the spec', () => {
  test('is a column name or a column and its positive value, and parses again to itself', () => {
    expect(labelColumn(parseModelSpec(base))).toBe('y');
    expect(labelColumn(positiveYes)).toBe('y');
    expect(parseModelSpec({ ...base, label: { column: 'y', positive: 2 } }).label).toEqual({ column: 'y', positive: 2 });
    expect(parseModelSpec(JSON.parse(JSON.stringify(byContent)))).toEqual(JSON.parse(JSON.stringify(byContent)));
  });

  test.each([
    [{ label: { column: 'y', postive: 'yes' } }, 'spec.label: Unrecognized key: "postive"'],
    [{ label: { column: 'y' } }, 'spec.label.positive: give the positive value, a string or a number'],
    [{ label: 5 }, 'spec.label: give the label column (label: y) or the column and its positive value'],
    [{ label: { column: 'age', positive: 1 } }, 'spec.label: the label must not also be a feature'],
    [{ protectedAttributes: [{ feature: 'age', bnds: [30] }] }, 'spec.protectedAttributes.0: Unrecognized key: "bnds"'],
  ])('rejects %j naming the field', (change, message) => {
    expect(() => parseModelSpec({ ...base, ...change })).toThrow(message);
  });
});

describe('labels as they come', () => {
  test('a string positive value is 1 and every other value 0', () => {
    const r = validateBatch(positiveYes, 'id,age,amount,y\n1,30,1,yes\n2,40,2,no\n3,50,3, yes \n4,60,4,maybe\n');
    expect(r.errors).toEqual([]);
    expect(r.rows.map((row) => row.label)).toEqual([1, 0, 1, 0]);
    // Stored canonically as 0/1, so snapshots and trainers see what they always saw.
    expect(fromCanonicalCsv(positiveYes, toCanonicalCsv(positiveYes, r.rows))).toEqual(r.rows);
  });

  test('a number positive value matches any spelling of that number', () => {
    const spec = parseModelSpec({ ...base, label: { column: 'y', positive: 2 } });
    const r = validateBatch(spec, 'id,age,amount,y\n1,30,1,2.0\n2,40,2,1\n3,50,3,two\n4,60,4,2\n');
    expect(r.rows.map((row) => row.label)).toEqual([1, 0, 0, 1]);
  });

  test('a positive value that never occurs among two other values quarantines the batch, naming the column and the values it holds', () => {
    const r = validateBatch(positiveYes, 'id,age,amount,y\n1,30,1,Yes\n2,40,2,no\n3,50,3,no\n');
    expect(r.rows).toEqual([]);
    expect(r.errors).toEqual([{ column: 'y', message: 'the positive value "yes" never occurs in this batch; its values include "Yes", "no" (label.positive)' }]);
  });

  test('a batch of negatives alone (one other value) is a quiet batch, not an error', () => {
    const r = validateBatch(positiveYes, 'id,age,amount,y\n1,30,1,no\n2,40,2,no\n');
    expect(r.errors).toEqual([]);
    expect(r.rows.map((row) => row.label)).toEqual([0, 0]);
  });

  test('an empty label cell is an error, not a negative', () => {
    expect(validateBatch(positiveYes, 'id,age,amount,y\n1,30,1,yes\n2,40,2,\n').errors).toEqual([{ line: 3, column: 'y', value: '', message: 'is empty' }]);
  });

  test('the old form still takes 0 and 1 and nothing else', () => {
    const spec = parseModelSpec(base);
    expect(validateBatch(spec, 'id,age,amount,y\n1,30,1,1\n2,40,2,0\n').rows.map((row) => row.label)).toEqual([1, 0]);
    expect(validateBatch(spec, 'id,age,amount,y\n1,30,1,yes\n').errors).toEqual([
      { column: 'y', message: 'holds text where a number is expected: 1 of its 1 values are not numbers' },
      { line: 2, column: 'y', value: 'yes', message: 'is not a number' },
    ]);
  });
});

describe('rows without an id column', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labels-and-ids-test-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('are known by a hash of their canonical content: the same on every run, whatever the column order or number spelling', () => {
    const r = validateBatch(byContent, 'age,amount,y\n30,100.5,yes\n45,-3,no\n');
    expect(r.errors).toEqual([]);
    // The documented definition, spelt out: sha256 of "30,100.5,1" (features in spec order, then the 0/1 label).
    expect(r.rows[0].id).toBe(`h:${crypto.createHash('sha256').update('30,100.5,1').digest('hex').slice(0, 16)}`);
    expect(r.rows.map((row) => row.id)).toEqual(['h:508f05fde7ab4070', contentId([45, -3], 0)]);
    const reordered = validateBatch(byContent, 'y,note,amount,age\nno,x,-3.0,45\n yes ,y,100.50,30\n');
    expect(reordered.rows.map((row) => row.id).sort()).toEqual(r.rows.map((row) => row.id).sort());
  });

  test('an exact repeat within a batch is kept as its own observation, numbered, and reported; rows differing in the label are two rows', () => {
    const r = validateBatch(byContent, 'age,amount,y\n30,1,yes\n40,2,no\n30,1.0,yes\n30,1,no\n30,1,yes\n');
    expect(r.errors).toEqual([]);
    const first = contentId([30, 1], 1);
    expect(r.rows.map((row) => row.id)).toEqual([first, contentId([40, 2], 0), `${first}#2`, contentId([30, 1], 0), `${first}#3`]);
    expect(r.notes).toContainEqual({ column: '*', message: '2 rows repeat an earlier row of this batch exactly (first on line 2): kept as separate observations, ids numbered "#2", "#3", …' });
  });

  test('go through the canonical CSV and the snapshot keyed by their hash; a repeat in a later batch is kept once', async () => {
    const first = validateBatch(byContent, 'age,amount,y\n30,1,yes\n40,2,no\n').rows;
    const second = validateBatch(byContent, 'age,amount,y\n40,2,no\n50,3,yes\n').rows;
    const canonical = toCanonicalCsv(byContent, first);
    expect(canonical.split('\n')[0]).toBe(`${CONTENT_ID_COLUMN},age,amount,y`);
    const files = [first, second].map((rows, i) => {
      const file = path.join(dir, `batch-${i}.csv`);
      fs.writeFileSync(file, toCanonicalCsv(byContent, rows));
      return file;
    });
    const out = path.join(dir, 'snapshot.parquet');
    expect(rowKeyColumn(byContent)).toBe(CONTENT_ID_COLUMN);
    const built = await buildParquetSnapshot({ batchCsvPaths: files, columns: snapshotColumns(byContent), outPath: out, orderBy: rowKeyColumn(byContent) });
    expect(built.rows).toBe(3);
    const d = await readSnapshot(out, byContent);
    expect(d.ids).toEqual([...new Set([...first, ...second].map((row) => row.id))].sort());
    expect(Array.from(d.y)).toEqual(d.ids.map((id) => [...first, ...second].find((row) => row.id === id)!.label));
  });

  test('the spec may not name a column as the row hash would be named', () => {
    expect(() => parseModelSpec({ ...withoutId, features: [...base.features, { name: CONTENT_ID_COLUMN, type: 'number' }] })).toThrow(
      `spec.idColumn: without an id column "${CONTENT_ID_COLUMN}" holds each row's content hash`,
    );
  });

  test('are replayed in an order of their whole line, the same every time', () => {
    const csv = path.join(dir, 'plain.csv');
    fs.writeFileSync(csv, `age,amount,y\n${Array.from({ length: 10 }, (_, i) => `${20 + i},${i},${i % 2 ? 'yes' : 'no'}`).join('\n')}\n`);
    const a = replayBatches(fs.readFileSync(csv, 'utf8'), path.join(dir, 'a'), 2, null).map((f) => fs.readFileSync(f, 'utf8'));
    const b = replayBatches(fs.readFileSync(csv, 'utf8'), path.join(dir, 'b'), 2, null).map((f) => fs.readFileSync(f, 'utf8'));
    expect(b).toEqual(a);
    expect(a.flatMap((t) => t.trim().split('\n').slice(1)).sort()).toEqual(fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1).sort());
    expect(() => replayBatches(fs.readFileSync(csv, 'utf8'), path.join(dir, 'c'), 2)).toThrow('no "ID" column in the header');
  });
});

describe('header columns the spec does not use', () => {
  test('are a note, not an error: the batch is accepted as before', () => {
    const r = validateBatch(parseModelSpec(base), 'note,y,amount,age,id\nx,1,5,33,7\n');
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([{ id: '7', label: 1, features: [33, 5] }]);
    expect(r.notes).toEqual([{ line: 1, column: 'note', message: 'not a column of the spec: ignored' }]);
  });

  test('without an id column an id the file carries is one of them', () => {
    expect(validateBatch(byContent, 'id,age,amount,y\n1,30,1,yes\n').notes).toEqual([{ line: 1, column: 'id', message: 'not a column of the spec: ignored' }]);
  });
});
