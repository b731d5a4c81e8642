import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { History } from '@temporalio/common/lib/proto-utils';
import { connections } from '../../config/env';
import type { PipelineOutcome } from '../../contracts/payloads';
import { rolloutStatusQuery, rolloutWorkflowId } from '../../contracts/messages';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { ArtifactStore, sha256 } from '../../storage/artifacts';
import { as, championVersion, commandSpec, ctx, monthlyBatches, registerSpec, rowsFrom, sendTraffic, startServing, startWorkers, testEnv, toGate, uniqueName, waitUntil } from './helpers';
import { cuttablePath } from './network-cut';

/** The most attempts any activity (of that type, if given) took in a history (1: it never had to be retried). */
function attemptsOf(history: History, activityType?: string): number {
  const scheduled = new Set<string>();
  let most = 0;
  for (const e of history.events ?? []) {
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (type !== undefined && (activityType === undefined || type === activityType)) scheduled.add(String(e.eventId));
    const started = e.activityTaskStartedEventAttributes;
    if (started && scheduled.has(String(started.scheduledEventId))) most = Math.max(most, started.attempt ?? 1);
  }
  return most;
}

/**
 * Rows of the fault matrix where a service goes away: the path to the real
 * PostgreSQL or S3 server is cut (open connections dropped, new ones
 * refused, as when the server stops) and restored, with the factory's
 * processes on the far side of it.
 */
describe('the fault matrix: services that go away', () => {
  const table: string[] = ['| fault | expected | seen |', '|---|---|---|'];
  afterAll(() => console.log(`fault matrix (outages):\n${table.join('\n')}`));

  test('PostgreSQL gone at the commit of a promotion: the promotion retries until it is back, the alias moves exactly once, the old champion serves meanwhile', async () => {
    const name = uniqueName('pg-gone');
    const direct = new URL(connections(testEnv()).databaseUrl);
    const pg = await cuttablePath({ host: direct.hostname, port: Number(direct.port) });
    const viaPath = Object.assign(new URL(direct), { port: String(pg.port) }).toString();
    const workers = await startWorkers({ DATABASE_URL: viaPath });
    const replica = await startServing({ DATABASE_URL: viaPath, SERVING_POLL_MS: '1000' });
    const batches = monthlyBatches();
    // The watch after full traffic starts at the cut, so the recovery from the outage (reconnections, the prediction log's backlog) lands on v2's
    // latency alone; on a loaded 2-core host that can cross the guard's limit. This row is about the promotion surviving the outage, not latency.
    await registerSpec(commandSpec(name, (raw) => Object.assign(raw.rollout, { bake: '4s', guard: { ...raw.rollout.guard, p99SlackMs: 250 } })));
    let traffic: ReturnType<typeof sendTraffic> | undefined;
    try {
      await ctx(async (c) => {
        const first = await toGate(c, name, batches[0]);
        await decide(as(c, 'alice'), 'approve', name, '1', {}, 0);
        expect(await c.client.workflow.getHandle(first).result()).toMatchObject({ status: 'promoted', version: 1 });
        await waitUntil('the replica to serve v1', async () => ((await (await fetch(`${replica.base}/readyz`)).json()) as { models: Record<string, unknown> }).models[name], 20_000);
        traffic = sendTraffic([replica.base], name, rowsFrom(batches[5], 300));

        const second = await toGate(c, name, batches[1]);
        await decide(as(c, 'alice'), 'approve', name, '2', {}, 0);
        await waitUntil('the canary', async () => ((await c.client.workflow.getHandle(rolloutWorkflowId(name, 2)).query(rolloutStatusQuery)).phase === 'canary' ? true : undefined), 60_000);
        // The promotion's transaction (db/rollouts.ts promote) reaches PostgreSQL whole, its COMMIT included; then the path is cut.
        pg.cutAfterText(['INSERT INTO deployments', 'COMMIT']);
        await waitUntil('the cut at the promotion', async () => (pg.isCut ? true : undefined), 60_000);
        const cutAt = Date.now();
        const servedBefore = traffic.stats.ok;
        await new Promise((r) => setTimeout(r, 10_000));
        const servedDuring = traffic.stats.ok - servedBefore;
        await pg.restore();

        const outcome = (await c.client.workflow.getHandle(second).result()) as PipelineOutcome;
        expect(outcome).toEqual({ status: 'promoted', version: 2, previousChampion: 1 });
        const stats = await traffic.stop();
        traffic = undefined;
        expect(stats.failed).toBe(0);
        expect(servedDuring).toBeGreaterThan(0);
        expect(await championVersion(name)).toBe(2);
        const moves = await c.db.query<{ action: string; n: number }>(
          `SELECT d.action, count(*)::int AS n FROM deployments d JOIN models m ON m.id = d.model_id JOIN model_versions v ON v.id = d.version_id WHERE m.name = $1 AND v.version = 2 GROUP BY d.action`,
          [name],
        );
        expect(moves.rows).toEqual([{ action: 'promote', n: 1 }]);
        const promotions = await c.db.query("SELECT 1 FROM audit_events WHERE model = $1 AND version = 2 AND action = 'version.promote'", [name]);
        expect(promotions.rowCount).toBe(1);
        const attempts = attemptsOf(await c.client.workflow.getHandle(rolloutWorkflowId(name, 2)).fetchHistory(), 'promoteCandidate');
        expect(attempts).toBeGreaterThan(1);
        table.push(
          `| PostgreSQL gone at a promotion's COMMIT, back after 10 s | promotion retries until it is back; alias moves exactly once; old champion serves | promoteCandidate took ${attempts} attempts, promoted v2 ${((Date.now() - cutAt) / 1000).toFixed(0)} s after the cut; 1 promote deployment, 1 audit row; ${servedDuring} requests served during the outage, ${stats.failed} of ${stats.ok + stats.failed} failed |`,
        );
      });
    } finally {
      await traffic?.stop();
      await pg.restore();
      await replica.stop();
      await workers.stop();
      await pg.close();
    }
  }, 300_000);

  test('S3 gone mid-upload and mid-download: no partial object is ever stored or read as complete; an ingest retries with backoff until it is back', async () => {
    const env = testEnv();
    const direct = new URL(connections(env).s3Endpoint);
    const s3 = await cuttablePath({ host: direct.hostname, port: Number(direct.port) });
    const viaPath = `http://127.0.0.1:${s3.port}`;
    const straight = ArtifactStore.fromEnv(env);
    const throughPath = ArtifactStore.fromEnv(env, viaPath);
    let workers: Awaited<ReturnType<typeof startWorkers>> | undefined;
    try {
      const bytes = randomBytes(24 << 20);
      const key = `uploads/${sha256(bytes)}.bin`;

      // Mid-upload: the SDK's own retries meet a refused connection and give up; nothing is left under the key.
      s3.cutAfter(6 << 20);
      const upload = await throughPath.put('uploads', bytes, '.bin').then(() => 'stored', (err: Error) => err.message);
      expect(upload).not.toBe('stored');
      expect(await straight.exists(key)).toBe(false);
      await s3.restore();
      const ref = await throughPath.put('uploads', bytes, '.bin');
      expect(ref.key).toBe(key);

      // Mid-download: the read fails, it never returns the bytes it got as the artifact.
      s3.cutAfter(6 << 20);
      const download = await throughPath.get(ref).then((b) => `returned ${b.length} bytes`, (err: Error) => err.message);
      expect(download).not.toMatch(/^returned/);
      await s3.restore();
      expect(Buffer.compare(await throughPath.get(ref), bytes)).toBe(0);

      // An ingest while S3 is away: its activities fail, are retried with backoff, and the batch is taken once S3 is back.
      const name = uniqueName('s3-gone');
      await registerSpec(commandSpec(name));
      workers = await startWorkers({ S3_ENDPOINT: viaPath }, ['cpu', 'control']);
      await ctx(async (c) => {
        const [batch] = monthlyBatches();
        await s3.cut();
        const taken = ingest(c, name, batch);
        await new Promise((r) => setTimeout(r, 8_000));
        await s3.restore();
        expect(await taken).toMatchObject({ status: 'accepted', rows: 5000 });
        const workflowId = `ingest-${name}-${sha256(fs.readFileSync(batch)).slice(0, 16)}`;
        const attempts = attemptsOf(await c.client.workflow.getHandle(workflowId).fetchHistory());
        expect(attempts).toBeGreaterThan(1);
        table.push(
          `| S3 gone mid-upload, mid-download, and for 8 s under an ingest | retried with backoff; no partial object read as complete | upload cut at 6 of 24 MiB: "${upload.slice(0, 60)}", nothing stored; download cut at 6 MiB: "${download.slice(0, 60)}"; the ingest's activity took ${attempts} attempts, then accepted 5000 rows |`,
        );
      });
    } finally {
      await s3.restore();
      await workers?.stop();
      await s3.close();
      straight.client.destroy();
      throughPath.client.destroy();
    }
  }, 240_000);
});
