import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeIngest, ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { creditSpec, ctx, withWorkers, registerSpec, uniqueName } from './helpers';

describe('data batches', () => {
  const factory = withWorkers();

  /** A real batch with two cells spoiled: line 10's AGE and line 25's PAY_0. */
  function spoiledBatch(): { file: string; bytes: Buffer } {
    const lines = fs.readFileSync(factory.batches[1], 'utf8').split('\n');
    const header = lines[0].split(',').map((h) => h.replace(/"/g, ''));
    const spoil = (line: number, column: string, value: string) => {
      const cells = lines[line - 1].split(',');
      cells[header.indexOf(column)] = value;
      lines[line - 1] = cells.join(',');
    };
    spoil(10, 'AGE', 'abc');
    spoil(25, 'PAY_0', '15');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bad-')), 'month-02-bad.csv');
    fs.writeFileSync(file, lines.join('\n'));
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
    const lines = fs.readFileSync(factory.batches[0], 'utf8').split('\n').slice(0, 50);
    const header = lines[0].split(',');
    const drop = header.indexOf('"LIMIT_BAL"') >= 0 ? header.indexOf('"LIMIT_BAL"') : header.indexOf('LIMIT_BAL');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hdr-')), 'no-limit.csv');
    fs.writeFileSync(file, lines.map((l) => l.split(',').filter((_, i) => i !== drop).join(',')).join('\n'));
    await ctx(async (c) => {
      const r = await ingest(c, name, file);
      expect(r.status).toBe('quarantined');
      expect(r.errors).toEqual([{ line: 1, column: 'LIMIT_BAL', message: 'required column is missing from the header' }]);
    });
  });
});
