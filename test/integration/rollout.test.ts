import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PipelineOutcome } from '../../contracts/payloads';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { followRollout, steerRollout } from '../../scripts/cli/rollout';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { rolloutStatusQuery, rolloutWorkflowId, type RolloutStatus } from '../../contracts/messages';
import { as, championVersion, commandSpec, ctx, monthlyBatches, registerSpec, rowsFrom, sendTraffic, startServing, startWorkers, uniqueName, waitUntil } from './helpers';

describe('rollouts', () => {
  const name = uniqueName('credit-rollout');
  const batches = monthlyBatches();
  const notifications: string[] = [];
  const hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => (notifications.push(JSON.parse(body).text), res.end('ok')));
  });
  let workers: Awaited<ReturnType<typeof startWorkers>>;
  let replicas: Awaited<ReturnType<typeof startServing>>[] = [];
  let traffic: ReturnType<typeof sendTraffic>;

  // The external (command) trainer is quick, and lets one test make a deliberately worse candidate.
  const spec = (change?: (raw: Record<string, any>) => void) => commandSpec(name, change);

  /**
   * Ingests a batch, trains, approves the candidate and returns the phases the
   * rollout went through, what `factory approve` printed as it followed it,
   * and the pipeline's outcome.
   */
  async function approveNext(batch: string, version: number, during: (s: RolloutStatus) => Promise<void> = async () => undefined) {
    return ctx(async (c) => {
      expect((await ingest(c, name, batch)).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const { workflowId, status } = await waitForStage(c, name, ['awaiting-approval'], 90_000);
      expect(status.version).toBe(version);
      await decide(as(c, 'alice'), 'approve', name, String(version), {}, 0);
      const rollout = c.client.workflow.getHandle(rolloutWorkflowId(name, version));
      const printed: string[] = [];
      const followed = followRollout(c, name, version, workflowId, (line) => printed.push(line.trim()));
      const result = c.client.workflow.getHandle(workflowId).result() as Promise<PipelineOutcome>;
      let done = false;
      void result.finally(() => (done = true)).catch(() => undefined);
      while (!done) {
        const s = await rollout.query(rolloutStatusQuery).catch(() => undefined);
        if (s) await during(s);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Every phase it entered, from its own timeline: a look every 200 ms can miss a short one on a loaded host. A closed workflow still answers queries.
      const { timeline } = await rollout.query(rolloutStatusQuery);
      expect(await followed).toEqual(await result);
      return { phases: timeline!.map((t) => t.phase), printed, outcome: await result };
    });
  }

  const query = <T = any>(sql: string, params: unknown[] = [name]) => ctx(async (c) => (await c.db.query(sql, params)).rows as T[]);
  const champion = () => championVersion(name);
  const reported = () => query<{ serving: Record<string, { champion: number; candidate: number | null }> }>('SELECT serving FROM serving_replicas WHERE heartbeat_at > now() - interval \'5 seconds\'', []);

  beforeAll(async () => {
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    workers = await startWorkers({ FACTORY_NOTIFY_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` });
    await registerSpec(spec());
  });
  afterAll(async () => {
    await traffic?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await workers?.stop();
    hook.closeAllConnections();
    hook.close();
  });

  test('the first version, with nothing serving yet, is promoted directly', async () => {
    const { phases, outcome } = await approveNext(batches[0], 1);
    expect(outcome).toEqual({ status: 'promoted', version: 1 });
    expect(phases).toEqual(['checking', 'full', 'completed']);
    expect(await champion()).toBe(1);
  });

  test('a good candidate goes shadow → canary → full on every replica, with no failed request', async () => {
    replicas = await Promise.all([startServing(), startServing()]);
    traffic = sendTraffic(replicas.map((r) => r.base), name, rowsFrom(batches[5], 500));
    const { phases, printed, outcome } = await approveNext(batches[1], 2);
    expect(outcome).toEqual({ status: 'promoted', version: 2, previousChampion: 1 });
    expect(phases).toEqual(['checking', 'shadow', 'canary', 'full', 'completed']);
    expect(printed).toEqual(['rollout: checking', 'rollout: shadow', 'rollout: canary at 30%', 'rollout: full', 'rollout: completed']);
    expect(await champion()).toBe(2);
    const served = await reported();
    expect(served).toHaveLength(2);
    for (const r of served) expect(r.serving[name]).toMatchObject({ champion: 2, candidate: null });
    // Both versions answered during the canary; the candidate also scored copies in the shadow phase.
    const roles = await query<{ role: string; version: number; n: string }>('SELECT role, version, count(*) AS n FROM predictions WHERE model = $1 GROUP BY role, version');
    const count = (role: string, version: number) => Number(roles.find((r) => r.role === role && r.version === version)?.n ?? 0);
    expect(count('shadow', 2)).toBeGreaterThan(20);
    expect(count('canary', 2)).toBeGreaterThan(20);
    expect(traffic.stats.failed).toBe(0);
    expect(traffic.stats.versions.get(1)).toBeGreaterThan(0);
    expect(traffic.stats.versions.get(2)).toBeGreaterThan(0);
  });

  test('pause holds the bake and only operators may steer; an abort after full traffic restores the old champion', async () => {
    await registerSpec(spec((raw) => Object.assign(raw.rollout, { bake: '4s', watch: '60s' })));
    let paused = false;
    let resumed = false;
    let aborted = false;
    const { outcome } = await approveNext(batches[2], 3, async (s) => {
      if (s.phase === 'canary' && !paused) {
        paused = true;
        await ctx(async (c) => {
          await expect(steerRollout(as(c, 'mallory'), 'pause', name, '3')).rejects.toThrow('"mallory" may not steer');
          expect((await steerRollout(as(c, 'alice'), 'pause', name, '3', { reason: 'checking dashboards' })).paused).toBe(true);
          await expect(steerRollout(as(c, 'alice'), 'pause', name, '3')).rejects.toThrow('already paused');
          const before = (await c.client.workflow.getHandle(rolloutWorkflowId(name, 3)).query(rolloutStatusQuery)).elapsedMs;
          await new Promise((r) => setTimeout(r, 2500));
          const after = await c.client.workflow.getHandle(rolloutWorkflowId(name, 3)).query(rolloutStatusQuery);
          expect(after.phase).toBe('canary');
          expect(after.elapsedMs - before).toBeLessThan(1500);
          await steerRollout(as(c, 'alice'), 'resume', name, '3');
          resumed = true;
        });
      }
      if (s.phase === 'full' && s.stats && !aborted) {
        aborted = true;
        await ctx((c) => steerRollout(as(c, 'bob'), 'abort', name, '3', { reason: 'support tickets rising' }));
      }
    });
    expect(resumed).toBe(true);
    expect(outcome).toEqual({ status: 'rolled-back', version: 3, reason: 'full: aborted by bob: support tickets rising', restoredChampion: 2 });
    expect(await champion()).toBe(2);
    const [v3] = await query<{ status: string; status_reason: string }>('SELECT v.status, v.status_reason FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = 3');
    expect(v3).toEqual({ status: 'rolled_back', status_reason: 'full: aborted by bob: support tickets rising' });
    const history = await query<{ action: string; version: number; reason: string | null }>(
      'SELECT d.action, v.version, d.reason FROM deployments d JOIN models m ON m.id = d.model_id JOIN model_versions v ON v.id = d.version_id WHERE m.name = $1 ORDER BY d.id',
    );
    expect(history.map((h) => `${h.action} v${h.version}`)).toEqual(['promote v1', 'promote v2', 'promote v3', 'rollback v2']);
    await waitUntil('every replica back on v2', async () => ((await reported()).every((r) => r.serving[name]?.champion === 2) ? true : undefined), 10_000);
    const audit = await query<{ action: string; actor: string; outcome: string }>("SELECT action, actor, outcome FROM audit_events WHERE model = $1 AND action LIKE 'rollout.%' ORDER BY id");
    expect(audit).toEqual(
      expect.arrayContaining([
        { action: 'rollout.pause', actor: 'mallory', outcome: 'denied' },
        { action: 'rollout.pause', actor: 'alice', outcome: 'ok' },
        { action: 'rollout.resume', actor: 'alice', outcome: 'ok' },
        { action: 'rollout.abort', actor: 'bob', outcome: 'ok' },
        { action: 'rollout.rollback', actor: 'bob', outcome: 'ok' },
      ]),
    );
    expect(traffic.stats.failed).toBe(0);
  });

  test('a deliberately worse candidate is rolled back automatically during the canary, and people are told', async () => {
    // It ranks clients backwards; the offline policy flags it, and a (mistaken) approval sends it to the canary.
    await registerSpec(spec((raw) => {
      raw.trainer.env = { INVERT_SCORES: '1' };
      raw.policy.onFail = 'flag';
      Object.assign(raw.rollout, { shadow: '0s', bake: '60s' });
    }));
    const { phases, outcome } = await approveNext(batches[3], 4);
    expect(phases).toEqual(['checking', 'canary', 'rolled_back']);
    expect(outcome).toMatchObject({ status: 'rolled-back', version: 4 });
    expect((outcome as { reason: string }).reason).toMatch(/^canary: score distribution shifted: PSI \d+\.\d+ > 0\.5/);
    expect(await champion()).toBe(2);
    await waitUntil('the webhook notification', async () => notifications.find((n) => n.includes(`${name} v4 was rolled back; v2 serves`)), 10_000);
    await waitUntil('every replica without the candidate', async () => ((await reported()).every((r) => r.serving[name]?.candidate === null) ? true : undefined), 10_000);
    const metrics = await (await fetch(`${replicas[0].base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`serving_rollbacks_total\\{model="${name}"\\} [1-9]`));
    expect(metrics).toMatch(/serving_prediction_log_rows_total [1-9]/);
    const { failed, ok } = await traffic.stop();
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(100);
  });

  test('a rollout nobody sends traffic to ends at rollout.maxDuration, rolled back for want of evidence, and people are told', async () => {
    await registerSpec(spec((raw) => Object.assign(raw.rollout, { shadow: '2s', maxDuration: '6s' })));
    const started = Date.now();
    const { phases, outcome } = await approveNext(batches[4], 5);
    expect(phases).toEqual(['checking', 'shadow', 'rolled_back']);
    expect(outcome).toMatchObject({ status: 'rolled-back', version: 5 });
    expect((outcome as { reason: string }).reason).toMatch(/^shadow: not enough evidence: fewer than 100 requests per version \(v5 0, v2 0\) within rollout.maxDuration 6s$/);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await champion()).toBe(2);
    await waitUntil('the webhook notification', async () => notifications.find((n) => n.includes(`${name} v5 was rolled back; v2 serves`)), 10_000);
  });
});
