import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, VARCHAR } from '@duckdb/node-api';
import { MockActivityEnvironment } from '@temporalio/testing/lib/mocking-activity-environment';
import { createDataActivities } from '../../activities/data';
import type { SnapshotRef } from '../../contracts/payloads';
import { readCsv, writeCsv } from '../../data/csv';
import type { RowError } from '../../specs/data-batch';
import { describeIngest, ingest } from '../../scripts/cli/ingest';
import type { CliContext } from '../../scripts/cli/context';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { creditSpec, ctx, withWorkers, registerSpec, uniqueName } from './helpers';

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-test-'));

/** A CSV batch rewritten as Parquet by DuckDB, with `select` over its columns (types inferred from the CSV). */
async function toParquet(csv: string, select = '*'): Promise<string> {
  const out = path.join(scratch(), `${path.basename(csv, '.csv')}.parquet`);
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const db = await instance.connect();
  await db.run(`COPY (SELECT ${select} FROM read_csv($csv, header = true)) TO $out (FORMAT parquet)`, { csv, out }, { csv: VARCHAR, out: VARCHAR });
  db.closeSync();
  instance.closeSync();
  return out;
}

/** The data activity's snapshot, run here against the test stack's PostgreSQL and S3. */
function snapshotOf(c: CliContext, model: string): Promise<SnapshotRef> {
  const data = createDataActivities({ db: c.db, store: c.store, workDir: scratch() });
  return new MockActivityEnvironment().run(() => data.createSnapshot({ model })) as Promise<SnapshotRef>;
}

describe('data batches', () => {
  const factory = withWorkers();

  /** A real batch with two cells spoiled: line 10's AGE and line 25's PAY_0. */
  function spoiledBatch(): { file: string; bytes: Buffer } {
    const records = readCsv(fs.readFileSync(factory.batches[1], 'utf8')).map((r) => r.cells);
    const spoil = (line: number, column: string, value: string) => (records[line - 1][records[0].indexOf(column)] = value);
    spoil(10, 'AGE', 'abc');
    spoil(25, 'PAY_0', '15');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bad-')), 'month-02-bad.csv');
    fs.writeFileSync(file, writeCsv(records));
    return { file, bytes: fs.readFileSync(file) };
  }

  test('a bad batch is quarantined whole with the row and column at fault, and never reaches a snapshot', async () => {
    const name = uniqueName('credit-data');
    await registerSpec(creditSpec(name));
    const bad = spoiledBatch();
    await ctx(async (c) => {
      const r = await ingest(c, name, bad.file);
      expect(r.status).toBe('quarantined');
      expect(r.errors).toEqual([
        { line: 10, column: 'AGE', value: 'abc', message: 'is not a number' },
        { line: 25, column: 'PAY_0', value: '15', message: 'must be at most 9' },
      ]);
      expect(describeIngest(name, bad.file, r)).toContain('line 10, column AGE (value "abc"): is not a number');
      // Kept byte for byte for inspection.
      expect(Buffer.compare(await c.store.get(r.artifact), bad.bytes)).toBe(0);
      expect(r.artifact.key).toMatch(/^quarantine\//);

      // With only the bad batch there is nothing to train on: the pipeline says so.
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      await expect(waitForStage(c, name, ['awaiting-approval'], 60_000)).rejects.toThrow(/has no accepted data batches/);

      const good = await ingest(c, name, factory.batches[0]);
      expect(good).toMatchObject({ status: 'accepted', rows: 5000, duplicate: false });
      expect(await ingest(c, name, factory.batches[0])).toMatchObject({ status: 'accepted', batchId: good.batchId, duplicate: true });

      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const { status } = await waitForStage(c, name, ['awaiting-approval'], 60_000);
      const snap = await c.db.query(
        'SELECT s.row_count, s.batch_ids FROM dataset_snapshots s JOIN models m ON m.id = s.model_id WHERE m.name = $1 AND s.artifact_sha256 = $2',
        [name, status.snapshotSha256],
      );
      expect(snap.rows[0]).toEqual({ row_count: 5000, batch_ids: [String(good.batchId)] });
      const stored = await c.db.query("SELECT b.status, b.report FROM data_batches b JOIN models m ON m.id = b.model_id WHERE m.name = $1 AND b.status = 'quarantined'", [name]);
      expect(stored.rows[0].report.errors).toHaveLength(2);
      const audit = await c.db.query("SELECT outcome FROM audit_events WHERE model = $1 AND action = 'batch.quarantine'", [name]);
      expect(audit.rows).toEqual([{ outcome: 'denied' }]);
    });
  });

  test('a file missing a required column is refused at the header, naming the column', async () => {
    const name = uniqueName('credit-header');
    await registerSpec(creditSpec(name));
    const records = readCsv(fs.readFileSync(factory.batches[0], 'utf8')).slice(0, 50).map((r) => r.cells);
    const drop = records[0].indexOf('LIMIT_BAL');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hdr-')), 'no-limit.csv');
    fs.writeFileSync(file, writeCsv(records.map((cells) => cells.filter((_, i) => i !== drop))));
    await ctx(async (c) => {
      const r = await ingest(c, name, file);
      expect(r.status).toBe('quarantined');
      expect(r.errors).toEqual([{ line: 1, column: 'LIMIT_BAL', message: 'required column is missing from the header' }]);
    });
  });

  test('a Parquet batch goes through the same validation and is stored as the same canonical CSV', async () => {
    const fromCsv = uniqueName('credit-csv');
    const fromParquet = uniqueName('credit-parquet');
    await registerSpec(creditSpec(fromCsv));
    await registerSpec(creditSpec(fromParquet));
    const parquet = await toParquet(factory.batches[0]);
    expect(fs.readFileSync(parquet).subarray(0, 4).toString()).toBe('PAR1');
    await ctx(async (c) => {
      const csv = await ingest(c, fromCsv, factory.batches[0]);
      const r = await ingest(c, fromParquet, parquet);
      expect(r).toMatchObject({ status: 'accepted', rows: 5000, errors: [] });
      expect(r.artifact.key).toMatch(/^batches\/.*\.csv$/);
      expect(r.artifact.sha256).toBe(csv.artifact.sha256);
      expect(describeIngest(fromParquet, parquet, r)).toContain('accepted as batch');

      // AGE written as text: the column is named first, then its cells by Parquet row; the file is quarantined as it came.
      const retyped = await toParquet(factory.batches[1], `* REPLACE (CAST(AGE AS VARCHAR) || ' years' AS AGE)`);
      const bad = await ingest(c, fromParquet, retyped);
      expect(bad.status).toBe('quarantined');
      expect(bad.errors[0]).toEqual({ column: 'AGE', message: 'holds text where a number is expected: 5000 of its 5000 values are not numbers' });
      expect(bad.errors[1]).toMatchObject({ row: 1, column: 'AGE', message: 'is not a number' });
      expect(bad.errors.length + bad.moreErrors).toBe(5001);
      expect(describeIngest(fromParquet, retyped, bad)).toContain('row 1, column AGE (value "');
      expect(bad.artifact.key).toMatch(/^quarantine\/.*\.parquet$/);
      expect(Buffer.compare(await c.store.get(bad.artifact), fs.readFileSync(retyped))).toBe(0);
    });
  });

  test('snapshots are Parquet in S3, the same for the same batches, with column statistics', async () => {
    const a = uniqueName('credit-snap-a');
    const b = uniqueName('credit-snap-b');
    await registerSpec(creditSpec(a));
    await registerSpec(creditSpec(b));
    await ctx(async (c) => {
      for (const f of factory.batches.slice(0, 2)) {
        expect((await ingest(c, a, f)).status).toBe('accepted');
        expect((await ingest(c, b, f)).status).toBe('accepted');
      }
      const first = await snapshotOf(c, a);
      const again = await snapshotOf(c, a);
      const other = await snapshotOf(c, b);
      expect(first.artifact.key).toBe(`snapshots/${first.artifact.sha256}.parquet`);
      expect(again).toEqual(first);
      expect(other.artifact.sha256).toBe(first.artifact.sha256);
      expect(first.rows).toBe(10_000);
      expect(first.split.train + first.split.validation + first.split.test).toBe(10_000);
      const bytes = await c.store.get(first.artifact);
      expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
      expect(bytes.subarray(-4).toString()).toBe('PAR1');
      const stored = await c.db.query('SELECT stats FROM dataset_snapshots WHERE id = $1', [first.snapshotId]);
      expect(stored.rows[0].stats.AGE).toMatchObject({ rows: 10_000, missingRate: 0 });
      expect(stored.rows[0].stats.AGE.min).toBeGreaterThanOrEqual(18);
    });
  });

  test('a batch whose column goes missing far more often than in the latest snapshot is quarantined, naming the column', async () => {
    const name = uniqueName('credit-missing');
    await registerSpec(creditSpec(name, (raw) => (raw.validation = { missingValues: 'allow', maxMissingRateIncrease: 0.2 })));
    /** Month 2 with BILL_AMT1 blank in the first `share` of its rows. */
    const blanked = (share: number) => {
      const [header, ...rows] = readCsv(fs.readFileSync(factory.batches[1], 'utf8')).map((r) => r.cells);
      const at = header.indexOf('BILL_AMT1');
      for (const cells of rows.slice(0, rows.length * share)) cells[at] = '';
      const file = path.join(scratch(), `month-02-${share}.csv`);
      fs.writeFileSync(file, writeCsv([header, ...rows]));
      return file;
    };
    await ctx(async (c) => {
      // Before any snapshot there is nothing to compare with: only the schema applies.
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      const snapshot = await snapshotOf(c, name);
      const bad = blanked(0.3);
      const r = await ingest(c, name, bad);
      expect(r.status).toBe('quarantined');
      expect(r.errors).toEqual([
        {
          column: 'BILL_AMT1',
          message: `missing in 30.0% of rows (1500 of 5000) against 0.0% in training snapshot ${snapshot.artifact.sha256.slice(0, 12)}: a rise of more than 20.0% (validation.maxMissingRateIncrease)`,
        },
      ]);
      expect(describeIngest(name, bad, r)).toContain('  column BILL_AMT1: missing in 30.0% of rows');
      const audit = await c.db.query("SELECT details FROM audit_events WHERE model = $1 AND action = 'batch.quarantine'", [name]);
      expect(audit.rows[0].details.checkedAgainst).toBe(snapshot.artifact.sha256);

      // Within the tolerance the gaps are accepted as missing values and reach the next snapshot.
      expect((await ingest(c, name, blanked(0.1))).status).toBe('accepted');
      const next = await snapshotOf(c, name);
      const stats = await c.db.query('SELECT stats FROM dataset_snapshots WHERE id = $1', [next.snapshotId]);
      expect(stats.rows[0].stats.BILL_AMT1.missingRate).toBeCloseTo(500 / 10_000, 10);
    });
  });
  test('a spec whose features change after data arrived: old batches are read with the columns it needs, a column they lack is named, and re-ingesting their file fills it in place', async () => {
    const name = uniqueName('evolve');
    const without = (raw: Record<string, any>) => (raw.features = raw.features.filter((f: { name: string }) => f.name !== 'PAY_AMT6' && f.name !== 'BILL_AMT6'));
    await registerSpec(creditSpec(name, without));
    await ctx(async (c) => {
      const first = await ingest(c, name, factory.batches[0]);
      expect(first.status).toBe('accepted');
      const before = await snapshotOf(c, name);
      // BILL_AMT6 back, and a new feature: the first batch was stored without either.
      await registerSpec(creditSpec(name, (raw) => (raw.features = raw.features.filter((f: { name: string }) => f.name !== 'PAY_AMT6'))));
      await expect(snapshotOf(c, name)).rejects.toThrow(`batch ${first.batchId} (${path.basename(factory.batches[0])}), accepted under an earlier spec, does not fit the current one: line 1, column BILL_AMT6: required column is missing from the header`);
      // The same file again is validated under the new spec, in its place: the same batch, now with the column.
      const again = await ingest(c, name, factory.batches[0]);
      expect({ batchId: again.batchId, status: again.status, duplicate: again.duplicate }).toEqual({ batchId: first.batchId, status: 'accepted', duplicate: false });
      const after = await snapshotOf(c, name);
      expect(after.rows).toBe(before.rows);
      // Dropping a feature needs nothing: the stored batch keeps it, the snapshot leaves it out.
      await registerSpec(creditSpec(name, without));
      expect((await snapshotOf(c, name)).artifact.sha256).toBe(before.artifact.sha256);
      // Sent again, the file is validated once under this schema too; after that it is a duplicate, as before.
      expect((await ingest(c, name, factory.batches[0])).duplicate).toBe(false);
      expect((await ingest(c, name, factory.batches[0])).duplicate).toBe(true);
      const audit = await c.db.query("SELECT details FROM audit_events WHERE model = $1 AND action = 'batch.accept' ORDER BY id", [name]);
      expect(audit.rows.map((r) => r.details.revalidated?.batchId ?? null)).toEqual([null, first.batchId, first.batchId]);
    });
  });
  test('poison batches are quarantined whole, each with a report naming where, and the snapshot does not change (the fault matrix\'s data rows)', async () => {
    const name = uniqueName('poison');
    await registerSpec(creditSpec(name));
    const [header, ...records] = readCsv(fs.readFileSync(factory.batches[0], 'utf8')).map((r) => r.cells);
    const at = (column: string) => header.indexOf(column);
    const dir = scratch();
    const write = (label: string, rows: string[][], bytes?: (b: Buffer) => Buffer) => {
      const file = path.join(dir, `${label}.csv`);
      const text = Buffer.from(writeCsv([header, ...rows]));
      fs.writeFileSync(file, bytes ? bytes(text) : text);
      return file;
    };
    const change = (rows: string[][], line: number, column: string, value: string) => rows.map((r, i) => (i === line - 2 ? r.map((c, j) => (j === at(column) ? value : c)) : r));
    await ctx(async (c) => {
      // Three ordinary batches of 100 rows: the row-spike check compares with their median.
      for (let k = 0; k < 3; k++) expect((await ingest(c, name, write(`ok-${k}`, records.slice(k * 100, (k + 1) * 100)))).status).toBe('accepted');
      const before = await snapshotOf(c, name);
      const base = records.slice(300, 400);
      const label = 'default.payment.next.month';
      const cases: { fault: string; file: string; expect: Partial<RowError> }[] = [
        { fault: 'wrong type', file: write('type', change(base, 7, 'AGE', 'forty')), expect: { line: 7, column: 'AGE', message: 'is not a number' } },
        { fault: 'NaN label', file: write('nan', change(base, 9, label, 'NaN')), expect: { line: 9, column: label, message: 'is not a number' } },
        { fault: 'missing label', file: write('missing', change(base, 11, label, '')), expect: { line: 11, column: label, message: 'is empty' } },
        { fault: 'duplicate id', file: write('dupe', change(base, 13, 'ID', base[0][at('ID')])), expect: { line: 13, column: 'ID', message: 'duplicate id, first seen on line 2' } },
        { fault: '10x row spike', file: write('spike', records.slice(400, 1500)), expect: { column: '*', message: '1100 rows, more than 10× the median accepted batch of this model (100 rows over 3 batches)' } },
        { fault: '1 MB line', file: write('long', change(base, 5, 'EDUCATION', 'x'.repeat(1 << 20))), expect: { line: 5, column: '*', message: 'characters long, more than 65536' } },
        { fault: 'formula cell (id)', file: write('formula-id', change(base, 6, 'ID', '=cmd()')), expect: { line: 6, column: 'ID', message: 'looks like a spreadsheet formula' } },
        { fault: 'formula cell (category)', file: write('formula-cat', change(base, 8, 'EDUCATION', '@SUM(A1:A9)')), expect: { line: 8, column: 'EDUCATION', message: 'looks like a spreadsheet formula' } },
        {
          fault: 'bytes not UTF-8',
          // Latin-1 where UTF-8 is due: é as the single byte 0xe9.
          file: write('latin1', change(base, 4, 'EDUCATION', 'MARKER'), (b) => Buffer.from(b.toString('latin1').replace('MARKER', 'universit\u00e9'), 'latin1')),
          expect: { line: 4, column: '*', message: 'not UTF-8 text' },
        },
      ];
      const table: string[] = ['| fault | expected | got |', '|---|---|---|'];
      for (const k of cases) {
        const r = await ingest(c, name, k.file);
        const first = r.errors[0];
        table.push(`| ${k.fault} | quarantined, ${k.expect.line ? `line ${k.expect.line}, ` : ''}column ${k.expect.column} | ${r.status}, ${first?.line ? `line ${first.line}, ` : ''}column ${first?.column}: ${first?.message.slice(0, 70)} |`);
        expect(r.status).toBe('quarantined');
        expect(first).toMatchObject({ ...k.expect, message: expect.stringContaining(k.expect.message!) });
      }
      console.log(`poison batches against the real intake path:\n${table.join('\n')}`);
      expect((await snapshotOf(c, name)).artifact.sha256).toBe(before.artifact.sha256);
    });
  });
});

