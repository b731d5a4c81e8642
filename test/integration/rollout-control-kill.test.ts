import type { PipelineOutcome } from '../../contracts/payloads';
import { rolloutStatusQuery, rolloutWorkflowId } from '../../contracts/messages';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { as, championVersion, commandSpec, ctx, monthlyBatches, registerSpec, rowsFrom, sendTraffic, startServing, startWorkers, uniqueName, waitUntil } from './helpers';

/** The fault matrix's row "control worker killed mid-rollout": the rollout continues from its history on another control worker. */
describe('a control worker killed mid-rollout', () => {
  test('the rollout carries on from its history on a new control worker; traffic split and alias end consistent, no request fails', async () => {
    const name = uniqueName('ctl-kill');
    const batches = monthlyBatches();
    const pools = await startWorkers({}, ['cpu', 'gpu']);
    let control = await startWorkers({}, ['control']);
    const replica = await startServing();
    let traffic: ReturnType<typeof sendTraffic> | undefined;
    // A canary long enough to be killed in.
    await registerSpec(commandSpec(name, (raw) => Object.assign(raw.rollout, { bake: '8s' })));
    try {
      await ctx(async (c) => {
        const candidate = async (batch: string, version: number) => {
          expect((await ingest(c, name, batch)).status).toBe('accepted');
          await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
          const { workflowId } = await waitForStage(c, name, ['awaiting-approval'], 90_000);
          await decide(as(c, 'alice'), 'approve', name, String(version), {}, 0);
          return c.client.workflow.getHandle(workflowId).result() as Promise<PipelineOutcome>;
        };
        expect(await candidate(batches[0], 1)).toEqual({ status: 'promoted', version: 1 });
        await waitUntil('the replica to serve v1', async () => ((await (await fetch(`${replica.base}/readyz`)).json()) as { models: Record<string, unknown> }).models[name], 20_000);
        traffic = sendTraffic([replica.base], name, rowsFrom(batches[5], 300));

        const outcome = candidate(batches[1], 2);
        const rollout = c.client.workflow.getHandle(rolloutWorkflowId(name, 2));
        await waitUntil('the canary', async () => ((await rollout.query(rolloutStatusQuery)).phase === 'canary' ? true : undefined), 60_000);
        control.kill('control');
        const killedAt = Date.now();
        await new Promise((r) => setTimeout(r, 2_000));
        control = await startWorkers({}, ['control']);
        expect(await outcome).toEqual({ status: 'promoted', version: 2, previousChampion: 1 });
        const seconds = (Date.now() - killedAt) / 1000;
        expect(await championVersion(name)).toBe(2);
        await waitUntil('the replica to report v2 alone', async () => {
          const r = (await (await fetch(`${replica.base}/readyz`)).json()) as { models: Record<string, { champion: number; candidate: number | null }> };
          return r.models[name]?.champion === 2 && r.models[name]?.candidate === null ? true : undefined;
        }, 20_000);
        const canary = await c.db.query("SELECT count(*)::int AS n FROM predictions WHERE model = $1 AND role = 'canary' AND version = 2", [name]);
        expect(canary.rows[0].n).toBeGreaterThan(0);
        await traffic.stop();
        expect(traffic.stats.failed).toBe(0);
        console.log(`fault matrix:\n| control worker killed mid-rollout | continues from history; split and alias consistent | killed in the canary, promoted v2 ${seconds.toFixed(0)} s later on a new worker; replica serves v2 alone; ${traffic.stats.ok} requests, ${traffic.stats.failed} failed |`);
      });
    } finally {
      await traffic?.stop();
      await replica.stop();
      await control.stop();
      await pools.stop();
    }
  });
});
