import type { PipelineOutcome } from '../../contracts/payloads';
import { loopStateQuery, loopWorkflowId, pipelineStatusQuery, rolloutStatusQuery, rolloutWorkflowId } from '../../contracts/messages';
import { decide } from '../../scripts/cli/approval';
import { as, commandSpec, ctx, registerSpec, rowsFrom, sendTraffic, startServing, toGate, uniqueName, waitUntil, withWorkers } from './helpers';

/**
 * A rollout that bakes for long must not stop the factory: the next candidate
 * trains, is evaluated and reaches its gate meanwhile; approved, it waits its
 * turn (one rollout per model), visibly, and is judged again against the
 * champion that rollout left behind.
 */
describe('retraining while a rollout bakes', () => {
  const factory = withWorkers();

  test('the next candidate reaches its gate during a rollout, waits for it, then is re-evaluated against the new champion and rolls out', async () => {
    const name = uniqueName('bakes');
    // No traffic reaches the replica until v3 waits its turn: v2's rollout sits in shadow for want of requests, as a long bake would.
    await registerSpec(commandSpec(name, (raw) => Object.assign(raw.rollout, { maxDuration: '10m' })));
    const replica = await startServing();
    let traffic: ReturnType<typeof sendTraffic> | undefined;
    try {
      await ctx(async (c) => {
        const loop = c.client.workflow.getHandle(loopWorkflowId(name));
        const first = await toGate(c, name, factory.batches[0]);
        await decide(as(c, 'alice'), 'approve', name, '1', {}, 0);
        expect(await c.client.workflow.getHandle(first).result()).toMatchObject({ status: 'promoted', version: 1 });
        await waitUntil('the replica to serve v1', async () => ((await (await fetch(`${replica.base}/readyz`)).json()) as { models: Record<string, unknown> }).models[name], 20_000);

        const second = await toGate(c, name, factory.batches[1]);
        await decide(as(c, 'alice'), 'approve', name, '2', {}, 0);
        const rollout2 = c.client.workflow.getHandle(rolloutWorkflowId(name, 2));
        await waitUntil('v2 in shadow', async () => ((await rollout2.query(rolloutStatusQuery)).phase === 'shadow' ? true : undefined), 60_000);

        // The loop has moved v2's pipeline aside: a new candidate trains and reaches its gate while v2 is still in shadow.
        const third = await toGate(c, name, factory.batches[2]);
        const during = await loop.query(loopStateQuery);
        expect({ running: during.running, rollingOut: during.rollingOut }).toEqual({ running: third, rollingOut: second });
        expect((await rollout2.query(rolloutStatusQuery)).phase).toBe('shadow');

        // Approved, v3 waits for v2's rollout, and says so.
        await decide(as(c, 'bob'), 'approve', name, '3', {}, 0);
        const pipeline3 = c.client.workflow.getHandle(third);
        const waiting = await waitUntil('v3 to wait its turn', async () => {
          const s = await pipeline3.query(pipelineStatusQuery);
          return s.stage === 'waiting-for-rollout' ? s : undefined;
        }, 30_000);
        expect(waiting.championVersion).toBe(1);
        expect((await loop.query(loopStateQuery)).awaitingTurn).toBe(true);
        expect((await rollout2.query(rolloutStatusQuery)).phase).toBe('shadow');

        // Traffic arrives: v2's rollout gathers its evidence and ends, then v3 takes its turn.
        traffic = sendTraffic([replica.base], name, rowsFrom(factory.batches[3], 500));
        expect(await c.client.workflow.getHandle(second).result()).toMatchObject({ status: 'promoted', version: 2, previousChampion: 1 });
        const outcome = (await pipeline3.result()) as PipelineOutcome;
        expect(outcome).toMatchObject({ status: 'promoted', version: 3, previousChampion: 2 });
        expect((await traffic.stop()).failed).toBe(0);

        // v3 was judged twice: against v1 at first, against v2 once its turn came; the rollouts never overlapped.
        const evaluations = await c.db.query<{ champion: number | null }>(
          `SELECT cv.version AS champion FROM evaluations e JOIN model_versions v ON v.id = e.model_version_id LEFT JOIN model_versions cv ON cv.id = e.champion_version_id
            JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = 3 ORDER BY e.id`,
          [name],
        );
        expect(evaluations.rows.map((r) => r.champion)).toEqual([1, 2]);
        const rollouts = await c.db.query<{ version: number; started_at: Date; finished_at: Date }>(
          'SELECT v.version, r.started_at, r.finished_at FROM rollouts r JOIN model_versions v ON v.id = r.candidate_version_id JOIN models m ON m.id = r.model_id WHERE m.name = $1 ORDER BY r.id',
          [name],
        );
        const [r2, r3] = rollouts.rows.filter((r) => r.version >= 2);
        expect(r3.started_at.getTime()).toBeGreaterThanOrEqual(r2.finished_at.getTime());
        console.log(`retraining during a rollout: v3 reached its gate while v2 was in shadow, waited ${((r3.started_at.getTime() - r2.started_at.getTime()) / 1000).toFixed(0)} s from v2's start, re-evaluated against v2, promoted`);
      });
    } finally {
      await traffic?.stop();
      await replica.stop();
    }
  });
});
