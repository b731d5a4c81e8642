import { toDataset } from '../../ml/dataset';
import { curves, fairness, quality, worstFairness } from '../../ml/quality';
import { parseModelSpec } from '../../specs/model-spec';

describe('evaluation metrics', () => {
  test('threshold metrics, Brier score and calibration error on a hand-checked example', () => {
    const y = [1, 1, 0, 0, 1, 0];
    const s = [0.9, 0.6, 0.4, 0.7, 0.2, 0.1];
    const q = quality(y, s, 0.5);
    // tp=2 (0.9, 0.6), fp=1 (0.7), fn=1 (0.2), tn=2
    expect(q).toMatchObject({ accuracy: 4 / 6, precision: 2 / 3, recall: 2 / 3, rows: 6, positives: 3 });
    expect(q.f1).toBeCloseTo(2 / 3, 12);
    expect(q.brier).toBeCloseTo((0.01 + 0.16 + 0.16 + 0.49 + 0.64 + 0.01) / 6, 12);
    // positive-negative pairs ranked right: 0.9 beats 3, 0.6 beats 2, 0.2 beats 1
    expect(q.auc).toBeCloseTo(6 / 9, 12);
    const perfect = quality([0, 0, 1, 1], [0.1, 0.1, 0.9, 0.9], 0.5);
    expect(perfect.ece).toBeCloseTo(0.1, 12);
  });

  test('ROC runs from (0,0) to (1,1) and the histogram counts every row', () => {
    const y = Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const s = y.map((v, i) => (v ? 0.6 : 0.4) + ((i * 37) % 100) / 500);
    const c = curves(y, s);
    expect(c.roc[0]).toEqual({ fpr: 0, tpr: 0 });
    expect(c.roc[c.roc.length - 1]).toEqual({ fpr: 1, tpr: 1 });
    expect(c.histogram.reduce((n, h) => n + h.rows, 0)).toBe(500);
  });

  test('group fairness: rates per group, gaps between measurable groups, small groups reported as such', () => {
    const spec = parseModelSpec({
      name: 'toy', task: 'binary-classification', idColumn: 'id', label: 'y',
      features: [{ name: 'sex', type: 'category', values: [1, 2] }, { name: 'age', type: 'integer' }],
      protectedAttributes: ['sex', { feature: 'age', bands: [30, 60] }],
      trainer: { kind: 'logistic-regression' }, approval: { approvers: ['a'] },
    });
    const rows = [];
    // 200 men: half positive label, predicted positive 50%; 200 women: predicted positive 25%; only 5 people aged 60+.
    for (let i = 0; i < 400; i++) {
      const sex = i < 200 ? 1 : 2;
      const age = i < 5 ? 65 : i % 2 ? 25 : 40;
      rows.push({ id: String(i), label: (i % 2) as 0 | 1, features: [sex, age] });
    }
    const d = toDataset(rows, spec);
    const scores = rows.map((r, i) => (r.features[0] === 1 ? (i % 4 < 2 ? 0.9 : 0.1) : i % 4 === 0 ? 0.9 : 0.1));
    const [sex, age] = fairness(d, scores, spec.features, spec.protectedAttributes, 0.5, 100);
    expect(sex.groups.map((g) => [g.group, g.rows, g.positiveRate])).toEqual([['sex=1', 200, 0.5], ['sex=2', 200, 0.25]]);
    expect(sex.demographicParityDiff).toBeCloseTo(0.25, 12);
    expect(sex.disparateImpactRatio).toBeCloseTo(0.5, 12);
    expect(sex.fourFifthsRule).toBe(false);
    const old = age.groups.find((g) => g.group === '≥ 60')!;
    expect(old).toMatchObject({ rows: 5, measurable: false, note: 'too small to measure (5 < 100 rows)' });
    expect(worstFairness([sex, age]).disparateImpactRatio).toBeLessThanOrEqual(0.5);
  });
});
