import { toDataset } from '../../ml/dataset';
import { objectiveOf } from '../../ml/gbdt/objectives';
import { fitLinear, linearToOnnx } from '../../ml/linear';
import { OnnxScorer } from '../../ml/scoring';
import { ShadowScorer } from '../../serving/shadow-scorer';

describe('the shadow scorer', () => {
  const toy = { features: [{ name: 'a', type: 'number' as const }, { name: 'b', type: 'number' as const }] };
  let scorer: OnnxScorer;
  beforeAll(async () => {
    const x = [[0, 1], [1, 0.5], [2, 0], [10, 1], [11, 0.5], [12, 0]];
    const d = toDataset(x.map((features, i) => ({ id: String(i), features, label: i < 3 ? 0 : 1 })), toy);
    const { model } = fitLinear(toy.features, d, objectiveOf({ task: 'binary-classification', label: 'y' }), { kind: 'linear', l2: 1, maxIterations: 50, tolerance: 1e-10 });
    scorer = await OnnxScorer.load(linearToOnnx(model, toy.features, {}, 'toy'), toy);
  });
  afterAll(() => scorer.release());

  const copy = (shadow: ShadowScorer, rows: number[][]) =>
    new Promise<{ taken: boolean; scores?: Float32Array }>((resolve) => {
      const taken = shadow.offer(Float32Array.from(rows.flat()), rows.length, ({ scores }) => resolve({ taken: true, scores }));
      if (!taken) resolve({ taken });
    });

  test('waits while the answers are busy, then scores every copy in one call, each its own rows', async () => {
    let busy = true;
    const shadow = new ShadowScorer(scorer, 2, () => !busy, 100);
    const calls: number[] = [];
    const score = scorer.score.bind(scorer);
    const spy = jest.spyOn(scorer, 'score').mockImplementation((x, rows) => (calls.push(rows), score(x, rows)));
    const a = copy(shadow, [[0, 1]]);
    const b = copy(shadow, [[12, 0], [11, 0.5]]);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual([]);
    busy = false;
    const [ra, rb] = await Promise.all([a, b]);
    spy.mockRestore();
    expect(calls).toEqual([3]);
    const alone = await scorer.score(Float32Array.from([0, 1, 12, 0, 11, 0.5]), 3);
    expect(Array.from(ra.scores!)).toEqual([alone[0]]);
    expect(Array.from(rb.scores!)).toEqual([alone[1], alone[2]]);
    await shadow.drained();
  });

  test('never waits longer than its budget for an idle moment', async () => {
    const shadow = new ShadowScorer(scorer, 2, () => false, 100);
    const started = performance.now();
    const r = await copy(shadow, [[2, 0]]);
    expect(r.scores).toHaveLength(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  test('refuses copies beyond the rows it may hold rather than queueing them', async () => {
    const shadow = new ShadowScorer(scorer, 2, () => false, 3);
    const first = copy(shadow, [[0, 1], [1, 1]]);
    expect((await copy(shadow, [[2, 2], [3, 3]])).taken).toBe(false);
    expect((await first).scores).toHaveLength(2);
    await shadow.drained();
  });
});
