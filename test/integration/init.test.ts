import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeCsv, readCsv } from '../../data/csv';
import { creditDefaultText } from '../../data/credit-default';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { initSpec } from '../../scripts/cli/init';
import { readSpecFile, registerModel } from '../../scripts/cli/models';
import { waitForStage } from '../../scripts/cli/train';
import { as, ctx, testEnv, uniqueName, withWorkers } from './helpers';

/**
 * A new user's first hour: a raw table of their own (here the public credit
 * file as a bank would export it: categories and the outcome as words, no id
 * column, semicolons), `factory init`, `register`, `ingest`, and a trained
 * candidate at its gate, nothing edited by hand.
 */
describe('factory init', () => {
  withWorkers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'init-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function exported(rows: number): string {
    const [header, ...records] = readCsv(creditDefaultText(testEnv())).map((r) => r.cells);
    const id = header.indexOf('ID');
    const label = header.indexOf('default.payment.next.month');
    const out = [
      [...header.filter((_, j) => j !== id && j !== label), 'outcome'],
      ...records.slice(0, rows).map((cells) => [...cells.filter((_, j) => j !== id && j !== label), cells[label] === '1' ? 'default' : 'paid']),
    ];
    const file = path.join(dir, `Credit Export ${rows}.csv`);
    fs.writeFileSync(file, writeCsv(out).replace(/,/g, ';'));
    return file;
  }

  test('drafts a spec from a raw CSV with string categories, a string label and no id, which registers and trains as it is', async () => {
    const file = exported(6000);
    const name = uniqueName('export');
    const out = path.join(dir, 'spec.yaml');
    const { text } = await initSpec(file, { name, out });
    expect(text).toContain(`wrote ${out}: model ${name}, 6000 rows`);
    const spec = readSpecFile(out);
    expect(spec.task).toBe('binary-classification');
    expect(spec.idColumn).toBeUndefined();
    expect(spec.label).toEqual({ column: 'outcome', positive: 'default' });
    expect(spec.features.find((f) => f.name === 'SEX')).toMatchObject({ type: 'category', values: ['female', 'male'], unknown: 'other' });
    expect(spec.features.find((f) => f.name === 'EDUCATION')?.values).toContain('graduate school');
    expect(spec.protectedAttributes.map((a) => a.feature)).toEqual(['SEX', 'MARRIAGE']);
    expect(fs.readFileSync(out, 'utf8')).toContain('# To check bias by age as well: - { feature: "AGE", bands: [25, 35, 45, 60] }');

    await ctx(async (c) => {
      expect(await registerModel(c, out, 'alice', { mayChangeApproval: true })).toContain(name);
      const batch = await ingest(c, name, file);
      expect(batch.status).toBe('accepted');
      // The spec's row trigger (a fifth of the file) starts the first training on this ingest.
      const { status } = await waitForStage(c, name, ['awaiting-approval', 'failed-policy'], 180_000);
      expect(status.stage).toBe('awaiting-approval');
      expect(status.candidate!.metrics.auc).toBeGreaterThan(0.72);
      expect((await decide(as(c, 'bob'), 'approve', name, String(status.version))).outcome?.status).toBe('promoted');
    });
  });

  test('names a label the file does not have, and a task its label cannot be', async () => {
    const file = exported(200);
    await expect(initSpec(file, { label: 'target', out: path.join(dir, 'x.yaml') })).rejects.toThrow('label "target" is not a column of the file; its columns are LIMIT_BAL, SEX');
    await expect(initSpec(file, { task: 'regression', out: path.join(dir, 'x.yaml') })).rejects.toThrow('a regression label must be numeric; "outcome" holds text');
    await expect(initSpec(file, { task: 'forecast', out: path.join(dir, 'x.yaml') })).rejects.toThrow('--task must be one of binary-classification, multiclass-classification, regression');
  });
});
