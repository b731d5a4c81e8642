import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { TASK_QUEUES } from '../../config/task-queues';
import { driftScenarioBatches } from '../../data/drift-scenario';
import { creditDefaultText } from '../../data/credit-default';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { backfillSchedule } from '../../scripts/cli/schedule';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { retrainScheduleId, syncSchedules } from '../../triggers/schedules';
import type { driftMonitor } from '../../workflows';
import { loopStateQuery, loopWorkflowId, pipelineStatusQuery } from '../../contracts/messages';
import { as, commandSpec, ctx, monthlyBatches, registerSpec, rowsFrom, sendTraffic, startServing, startWorkers, testEnv, uniqueName, waitUntil } from './helpers';
import type { CliContext } from '../../scripts/cli/context';

describe('triggers: rows, schedule, drift and energy windows', () => {
  const batches = monthlyBatches();
  // A day-ahead feed the test controls: dear now, cheap from two hours on; or down.
  let feedDown = false;
  const feed = http.createServer((_req, res) => {
    if (feedDown) return void res.writeHead(503).end('maintenance');
    const hour = 3_600_000;
    const start = Math.floor(Date.now() / hour) * hour;
    const prices = Array.from({ length: 12 }, (_, i) => ({ start: new Date(start + i * hour).toISOString(), price: i >= 2 && i < 5 ? 40 : 200 }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ prices, currency: 'EUR' }));
  });
  let workers: Awaited<ReturnType<typeof startWorkers>>;

  const pipelines = async (c: CliContext, name: string, extra = '') => {
    const found: { id: string; trigger: unknown }[] = [];
    for await (const w of c.client.workflow.list({ query: `FactoryModel = "${name}" AND WorkflowType = "trainingPipeline"${extra}` })) {
      found.push({ id: w.workflowId, trigger: w.searchAttributes.FactoryTrigger });
    }
    return found;
  };
  const stopLoop = (c: CliContext, name: string) => c.client.workflow.getHandle(loopWorkflowId(name)).terminate('test done').catch(() => undefined);

  beforeAll(async () => {
    await new Promise<void>((r) => feed.listen(0, '127.0.0.1', r));
    workers = await startWorkers({ FACTORY_PRICE_FEED: `http://127.0.0.1:${(feed.address() as AddressInfo).port}/prices` });
  });
  afterAll(async () => {
    await workers?.stop();
    feed.close();
  });

  test('each batch that carries new rows across the threshold asks for one retrain; crossings during a pipeline are coalesced', async () => {
    const name = uniqueName('credit-rows');
    await registerSpec(commandSpec(name, (raw) => (raw.triggers = { rows: 5000 })));
    await ctx(async (c) => {
      const first = await ingest(c, name, batches[0]);
      expect(first).toMatchObject({ status: 'accepted', retrain: { rows: 5000, threshold: 5000, coalesced: false } });
      const running = await waitForStage(c, name, ['awaiting-approval'], 90_000);
      expect(running.status.trigger).toMatchObject({ reason: 'rows', detail: expect.stringContaining('5000 new labelled rows') });
      // Two more crossings while the first pipeline waits for approval: one follow-up, not two.
      expect((await ingest(c, name, batches[1])).retrain).toMatchObject({ rows: 10000, coalesced: true });
      expect((await ingest(c, name, batches[2])).retrain).toMatchObject({ rows: 15000, coalesced: true });
      const state = await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery);
      expect(state).toMatchObject({ running: running.workflowId, pending: { reason: 'rows' }, coalesced: 2 });
      expect(await pipelines(c, name)).toEqual([{ id: running.workflowId, trigger: ['rows'] }]);
      await stopLoop(c, name);
    });
  });

  test('where the spec says so, a newer trigger supersedes a candidate still waiting for approval', async () => {
    const name = uniqueName('credit-supersede');
    await registerSpec(commandSpec(name, (raw) => (raw.approval.supersede = true)));
    await ctx(async (c) => {
      expect((await ingest(c, name, batches[0])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'first' });
      const first = await waitForStage(c, name, ['awaiting-approval'], 90_000);
      await requestTraining(c, name, { reason: 'drift', requestedBy: 'drift-monitor', detail: 'PAY_0 moved' });
      expect(await c.client.workflow.getHandle(first.workflowId).result()).toEqual({
        status: 'rejected',
        version: 1,
        by: 'factory',
        reason: 'superseded: a newer drift trigger asked for a retrain (PAY_0 moved)',
      });
      await waitUntil('the follow-up pipeline', async () => {
        const state = await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery);
        return state.running && state.running !== first.workflowId ? true : undefined;
      });
      const second = await waitForStage(c, name, ['awaiting-approval'], 90_000);
      expect(second.status).toMatchObject({ version: 2, trigger: { reason: 'drift' } });
      await stopLoop(c, name);
    });
  });

  test('a Temporal Schedule from the spec retrains with reason "schedule"; a backfill of several runs yields one pipeline and one follow-up', async () => {
    const name = uniqueName('credit-sched');
    const s = commandSpec(name, (raw) => (raw.triggers = { schedule: { every: '1h', timezone: 'Europe/Berlin', jitter: '1s' } }));
    await registerSpec(s);
    await ctx(async (c) => {
      expect((await ingest(c, name, batches[0])).status).toBe('accepted');
      expect(await syncSchedules(c.client, s)).toEqual([`${retrainScheduleId(name)} created`]);
      const described = await c.client.schedule.getHandle(retrainScheduleId(name)).describe();
      expect(described.spec.timezone).toBe('Europe/Berlin');
      expect(described.policies.overlap).toBe('SKIP');
      const now = Date.now();
      await backfillSchedule(c, name, new Date(now - 3.5 * 3_600_000).toISOString(), new Date(now).toISOString());
      const running = await waitForStage(c, name, ['awaiting-approval'], 90_000);
      expect(running.status.trigger).toMatchObject({ reason: 'schedule', requestedBy: 'schedule' });
      await waitUntil('the backfilled runs to reach the loop', async () => {
        const state = await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery);
        return state.coalesced >= 2 ? state : undefined;
      }, 30_000);
      expect(await pipelines(c, name)).toHaveLength(1);
      expect(await pipelines(c, name, ' AND FactoryTrigger = "schedule"')).toHaveLength(1);
      // Removing the schedule from the spec removes it from Temporal.
      expect(await syncSchedules(c.client, commandSpec(name))).toEqual([`${retrainScheduleId(name)} deleted`]);
      await stopLoop(c, name);
    });
  });

  test('a request with a deadline waits on a durable timer for the cheapest window, and trains at once when the price feed is down', async () => {
    const name = uniqueName('credit-energy');
    await registerSpec(commandSpec(name));
    await ctx(async (c) => {
      expect((await ingest(c, name, batches[0])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test', deadline: new Date(Date.now() + 8 * 3_600_000).toISOString() });
      const waiting = await waitForStage(c, name, ['waiting-for-energy'], 30_000);
      const w = waiting.status.energyWindow!;
      expect(w.fallback).toBe(false);
      const hoursAhead = (Date.parse(w.startAt) - Date.now()) / 3_600_000;
      expect(hoursAhead).toBeGreaterThan(0.9);
      expect(hoursAhead).toBeLessThan(2.1);
      expect(w.averagePricePerMWh).toBeCloseTo(40, 0);
      expect(w.savingsVsNow).toBeGreaterThan(0.7);
      const { currentDetails } = await c.client.workflow.getHandle(waiting.workflowId).query<{ currentDetails: string }>('__temporal_workflow_metadata');
      expect(currentDetails).toContain('energy: training waits until');
      await c.client.workflow.getHandle(waiting.workflowId).terminate('test: not waiting two hours');

      feedDown = true;
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test', deadline: new Date(Date.now() + 8 * 3_600_000).toISOString() });
      const now = await waitForStage(c, name, ['awaiting-approval'], 90_000);
      expect(now.status.energyWindow).toMatchObject({ fallback: true, explanation: expect.stringMatching(/^price feed unavailable \(.*HTTP 503.*\); training now/) });
      feedDown = false;
      await stopLoop(c, name);
    });
  });

  test('drift in live inputs starts a retrain with the drift report attached; stable traffic does not', async () => {
    const name = uniqueName('credit-drift');
    await registerSpec(commandSpec(name, (raw) => (raw.triggers = { drift: { every: '1h', window: '1h', minRows: 300, psiThreshold: 0.1 } })));
    // A new client segment (young, low limits) enters from month 4: drift in who the clients are, not in what the label reads.
    const months = driftScenarioBatches(creditDefaultText(testEnv()), fs.mkdtempSync(path.join(os.tmpdir(), `drift-${name}-`)), 'covariate');
    const serving = await startServing();
    try {
      await ctx(async (c) => {
        for (const b of months.slice(0, 2)) expect((await ingest(c, name, b)).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        await waitForStage(c, name, ['awaiting-approval'], 90_000);
        expect((await decide(as(c, 'alice'), 'approve', name, '1')).outcome).toMatchObject({ status: 'promoted', version: 1 });
        await waitUntil('the replica to serve v1', async () => ((await (await fetch(`${serving.base}/readyz`)).json()) as { models: Record<string, unknown> }).models[name], 20_000);
        const monitor = (id: string) => c.client.workflow.execute<typeof driftMonitor>('driftMonitor' satisfies (typeof driftMonitor)['name'], { workflowId: id, taskQueue: TASK_QUEUES.control, args: [{ model: name }] });

        const send = async (file: string) => {
          const traffic = sendTraffic([serving.base], name, rowsFrom(file, 600), { clients: 4 });
          await waitUntil('600 logged predictions', async () => (traffic.stats.ok >= 600 ? true : undefined), 60_000);
          await traffic.stop();
          await new Promise((r) => setTimeout(r, 1500));
        };
        // Month 3: before the shift, and unseen by the champion.
        await send(months[2]);
        // The month's labels arrive after its predictions: joined on the row id, they give live AUC.
        expect((await ingest(c, name, months[2])).status).toBe('accepted');
        const stable = await monitor(`${name}-drift-stable`);
        expect(stable).toMatchObject({ conclusive: true, retrain: false, requested: false });
        expect(stable.maxPsi).toBeLessThan(0.1);
        expect(stable.labelled).toBeGreaterThanOrEqual(300);
        expect(stable.liveAuc).toBeGreaterThan(0.65);

        await c.db.query('DELETE FROM predictions WHERE model = $1', [name]);
        await send(months[4]);
        const drifted = await monitor(`${name}-drift-shifted`);
        expect(drifted).toMatchObject({ conclusive: true, retrain: true, requested: true });
        // The features that define the new segment are the ones seen to move.
        const segment = drifted.driftedFeatures.filter((f) => ['AGE', 'LIMIT_BAL'].includes(f));
        expect(segment.length).toBeGreaterThan(0);
        expect(drifted.summary).toMatch(new RegExp(`^drift: input drift in .*${segment[0]} \\(PSI`));
        const report = JSON.parse(await c.store.getText({ key: drifted.reportKey!, sha256: drifted.reportSha256!, bytes: 0 }));
        expect(report.report.features.map((f: { feature: string }) => f.feature)).toContain(segment[0]);
        const running = await waitForStage(c, name, ['awaiting-approval', 'snapshot', 'training', 'evaluating'], 60_000);
        expect(running.status.trigger).toMatchObject({ reason: 'drift', requestedBy: 'drift-monitor', detail: drifted.summary });
        const status = await c.client.workflow.getHandle(running.workflowId).query(pipelineStatusQuery);
        expect(status.trigger.reason).toBe('drift');
        const checks = await c.db.query('SELECT retrain, drifted_features FROM drift_checks d JOIN models m ON m.id = d.model_id WHERE m.name = $1 ORDER BY d.id', [name]);
        expect(checks.rows.map((r) => r.retrain)).toEqual([false, true]);
        await stopLoop(c, name);
      });
    } finally {
      await serving.stop();
    }
  });
});
