import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sharedText } from '../../config/env';
import { replayBatches } from '../../data/replay';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { reportLink } from '../../scripts/cli/report';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { toInstance, validateBatch } from '../../specs/data-batch';
import type { ModelSpec } from '../../specs/model-spec';
import { MockActivityEnvironment } from '@temporalio/testing/lib/mocking-activity-environment';
import { createDriftActivities } from '../../activities/drift';
import { as, ctx, registerSpec, shippedSpec, startServing, testEnv, uniqueName, waitUntil, withWorkers } from './helpers';

/** The shipped regression and multiclass models, each from its raw public file to answers served, through the real workers. */
describe('a demand forecast and a grade classifier on the real stack', () => {
  withWorkers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-'));
  let serving: Awaited<ReturnType<typeof startServing>> | undefined;
  beforeAll(async () => {
    serving = await startServing();
  });
  afterAll(async () => {
    await serving?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const predict = async (model: string, instances: unknown[]) => {
    const res = await fetch(`${serving!.base}/v1/models/${model}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances }) });
    return { status: res.status, body: (await res.json()) as { version: number; predictions: unknown[]; error?: string } };
  };

  async function toChampion(spec: ModelSpec, batches: string[]) {
    await registerSpec(spec);
    return ctx(async (c) => {
      for (const f of batches) expect((await ingest(c, spec.name, f)).status).toBe('accepted');
      await requestTraining(c, spec.name, { reason: 'manual', requestedBy: 'test' });
      const { status } = await waitForStage(c, spec.name, ['awaiting-approval', 'failed-policy'], 180_000);
      expect(status.stage).toBe('awaiting-approval');
      const html = await (await fetch((await reportLink(c, spec.name, status.version)).url)).text();
      const { outcome } = await decide(as(c, 'alice'), 'approve', spec.name, String(status.version));
      expect(outcome?.status).toBe('promoted');
      return { status, html };
    });
  }

  async function served(model: string, instance: unknown) {
    for (let i = 0; i < 100; i++) {
      const r = await predict(model, [instance]);
      if (r.status === 200) return r.body;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`${model} was never served`);
  }

  test('bike-sharing: a Poisson forecast trained on the past, tested on the latest hours, serving rentals per hour', async () => {
    const name = uniqueName('bikes');
    // The shipped drift check's window and size, at the scale of one test month; no other trigger.
    const spec = shippedSpec('bike-sharing', name, (raw) => (raw.triggers = { drift: { every: '1h', window: '14d', minRows: 100 } }));
    const months = replayBatches(sharedText(testEnv(), 'bike-sharing/hour.csv'), path.join(dir, 'bikes'), 6, 'instant', 'dteday');
    const { status, html } = await toChampion(spec, months.slice(0, 2));
    const q = status.candidate!.quality;
    if (q.task !== 'regression') throw new Error(`expected a regression evaluation, got ${JSON.stringify(q)}`);
    // Tested on the most recent hours of the first eight months; predicting their mean would score R² 0.
    expect(q.r2).toBeGreaterThan(0.6);
    expect(status.candidate!.metrics.rmse).toBe(q.rmse);
    expect(status.candidate!.metrics.auc).toBeUndefined();
    expect(status.candidate!.groupErrors!.map((g) => g.attribute)).toEqual(['workingday']);
    for (const title of ['Predicted vs actual', 'Residuals vs predicted', 'Group errors: workingday']) expect(html).toContain(title);

    const [row] = validateBatch(spec, fs.readFileSync(months[2], 'utf8')).rows;
    const answer = await served(name, toInstance(spec, row));
    expect(answer.version).toBe(1);
    expect(answer.predictions).toHaveLength(1);
    expect(answer.predictions[0]).toBeGreaterThan(0);
    const bad = await predict(name, [{ ...toInstance(spec, row), hr: 24 }]);
    expect(bad).toMatchObject({ status: 400, body: { error: 'instances.0.hr: must be at most 23' } });
    expect(await predict(name, [{ ...toInstance(spec, row), dteday: '03/10/2012' }])).toMatchObject({ status: 400, body: { error: 'instances.0.dteday: is not a date (2012-10-01) or an ISO timestamp (2012-10-01T13:00:00Z)' } });

    // The drift monitor watches it in data time: the latest two weeks of hours its clients sent, whenever they were served.
    const later = validateBatch(spec, fs.readFileSync(months[2], 'utf8')).rows;
    // One client's stray date far ahead does not move the window for good.
    expect((await predict(name, [{ ...toInstance(spec, row), dteday: '2030-01-01' }])).status).toBe(200);
    for (let i = 0; i < later.length; i += 200) expect((await predict(name, later.slice(i, i + 200).map((r) => toInstance(spec, r)))).status).toBe(200);
    const last = new Date(Math.max(...later.map((r) => r.time!))).toISOString();
    const check = await ctx(async (c) => {
      await waitUntil('the prediction log to hold the month', async () => {
        const n = await c.db.query("SELECT count(*)::int AS n FROM predictions WHERE model = $1 AND role = 'champion'", [name]);
        return n.rows[0].n >= later.length + 2 ? n.rows[0] : undefined;
      });
      const drift = createDriftActivities({ db: c.db, store: c.store, workDir: dir });
      return (await new MockActivityEnvironment().run(() => drift.measureDrift({ model: name, checkId: `${name}-check` }))) as { conclusive: boolean; rows: number; summary: string };
    });
    expect(check.summary).toContain('in the latest 14d of data time (dteday)');
    // Two weeks of hours, each predicted once, ending at the month's last day.
    const expected = later.filter((r) => r.time! > Date.parse(last) - 14 * 86_400_000).length;
    expect({ conclusive: check.conclusive, rows: check.rows }).toEqual({ conclusive: true, rows: expected });
  });

  test('wine-quality: seven grades, served as the most probable grade with every grade\'s probability', async () => {
    const name = uniqueName('wine');
    const spec = shippedSpec('wine-quality', name);
    const [batch] = replayBatches(sharedText(testEnv(), 'wine-quality/winequality-white.csv'), path.join(dir, 'wine'), 1, null);
    const { status, html } = await toChampion(spec, [batch]);
    const q = status.candidate!.quality;
    if (q.task !== 'multiclass') throw new Error(`expected a multiclass evaluation, got ${JSON.stringify(q)}`);
    expect(q.accuracy).toBeGreaterThan(0.55);
    expect(q.confusion).toHaveLength(7);
    expect(html).toContain('Confusion matrix');

    const [row] = validateBatch(spec, fs.readFileSync(batch, 'utf8')).rows;
    const answer = await served(name, toInstance(spec, row));
    const [p] = answer.predictions as { class: number; probabilities: Record<string, number> }[];
    expect(Object.keys(p.probabilities)).toEqual(['3', '4', '5', '6', '7', '8', '9']);
    expect(Object.values(p.probabilities).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 4);
    const best = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1])[0][0];
    expect(String(p.class)).toBe(best);
  });
});
