import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { PipelineOutcome } from '../../contracts/payloads';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { reportLink } from '../../scripts/cli/report';
import { modelStatus } from '../../scripts/cli/status';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { approveSignal, pipelineStatusQuery } from '../../contracts/messages';
import { as, championVersion, creditSpec, ctx, historyText, registerSpec, uniqueName, waitUntil, withWorkers } from './helpers';

describe('the factory loop on the real stack', () => {
  const factory = withWorkers();

  const name = uniqueName('credit');

  test('ingest, train, evaluate, approve through the update: the candidate becomes champion with its lineage', async () => {
    await registerSpec(creditSpec(name));
    await ctx(async (c) => {
      for (const f of factory.batches.slice(0, 2)) expect((await ingest(c, name, f)).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const { status, workflowId } = await waitForStage(c, name, ['awaiting-approval', 'failed-policy'], 120_000);
      expect(status.stage).toBe('awaiting-approval');
      expect(status.version).toBe(1);
      expect(status.verdict?.passed).toBe(true);
      expect(status.candidate!.metrics.auc).toBeGreaterThan(0.74);
      expect(status.candidate!.infra.passed).toBe(true);
      expect(status.candidate!.metrics.latencyP99Ms).toBeGreaterThan(0);
      expect(status.candidate!.fairness.map((f) => f.attribute)).toEqual(['SEX', 'AGE bands']);
      // The approval request links the report: a pre-signed S3 URL that serves the HTML.
      // Named in the history, never linked: a pre-signed link would be a credential there for a week.
      const history = historyText(await c.client.workflow.getHandle(workflowId).fetchHistory());
      expect(history).toContain(status.reportKey!);
      expect(history).not.toContain('X-Amz-Signature');
      const page = await fetch((await reportLink(c, name, status.version)).url);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<svg');
      expect(status.champion).toBeUndefined();

      // The snapshot is a Parquet file in S3, named by its hash.
      const snap = (await c.db.query('SELECT artifact_key, artifact_bytes FROM dataset_snapshots WHERE artifact_sha256 = $1', [status.snapshotSha256])).rows[0];
      expect(snap.artifact_key).toBe(`snapshots/${status.snapshotSha256}.parquet`);
      const parquet = await c.store.get({ key: snap.artifact_key, sha256: status.snapshotSha256!, bytes: Number(snap.artifact_bytes) });
      expect(parquet.subarray(0, 4).toString()).toBe('PAR1');
      // The training run's energy: measured where nvidia-smi answers, else estimated from CPU time and labelled so; priced by the sample curve.
      const gpu = spawnSync('nvidia-smi', ['-L']).status === 0;
      const run = await c.db.query(
        'SELECT t.energy_kwh, t.energy_cost, t.energy_currency, t.energy FROM training_runs t JOIN models m ON m.id = t.model_id WHERE m.name = $1',
        [name],
      );
      const energy = run.rows[0];
      expect(energy.energy_kwh).toBeGreaterThan(0);
      expect(energy.energy_cost).toBeGreaterThan(0);
      expect(energy.energy_currency).toBe('EUR');
      expect(energy.energy).toMatchObject({ kWh: energy.energy_kwh, estimated: !gpu, source: gpu ? 'nvidia-smi' : 'cpu-estimate', priceSource: expect.stringContaining('sample day-ahead curve') });
      expect(energy.energy.method).toMatch(gpu ? /nvidia-smi/ : /CPU time × 15 W per busy core/);
      expect(html).toContain('<h2>Training energy</h2>');
      expect(html).toContain(gpu ? 'measured (nvidia-smi)' : 'ESTIMATE (cpu-estimate)');

      await expect(decide(as(c, 'mallory'), 'approve', name, '1')).rejects.toThrow(`"mallory" is not an approver of ${name} (approvers: alice, bob, carol)`);
      await expect(decide(as(c, 'alice'), 'approve', name, '2')).rejects.toThrow(`${name} has no version 2`);
      await expect(decide(as(c, 'alice'), 'approve', 'no-such-model', '1')).rejects.toThrow('unknown model "no-such-model"');

      const result = await decide(as(c, 'alice'), 'approve', name, 'v1', { comment: 'ship it' });
      expect(result.answer.decision).toMatchObject({ decision: 'approved', approver: 'alice', channel: 'cli', comment: 'ship it' });
      expect(result.outcome).toEqual<PipelineOutcome>({ status: 'promoted', version: 1 });
      await expect(decide(as(c, 'bob'), 'approve', name, '1')).rejects.toThrow(`${name} v1 is not awaiting approval: it is champion`);

      const text = await modelStatus(c, name);
      const v = await c.db.query(
        `SELECT v.artifact_key, v.artifact_sha256, v.artifact_bytes, s.artifact_sha256 AS snapshot_sha256, s.row_count
           FROM model_versions v JOIN dataset_snapshots s ON s.id = v.snapshot_id JOIN models m ON m.id = v.model_id
          WHERE m.name = $1 AND v.version = 1`,
        [name],
      );
      const row = v.rows[0];
      expect(row.row_count).toBe(10_000);
      expect(text).toContain('champion: v1');
      expect(text).toContain('approved by alice via cli');
      expect(text).toContain(`model    sha256 ${row.artifact_sha256}`);
      expect(text).toContain(`snapshot sha256 ${row.snapshot_sha256} (10000 rows from batches`);
      expect(text).toMatch(/\n    energy   [\d.e-]+ kWh, avg [\d.]+ W \((ESTIMATE|measured), .*\); cost [\d.e-]+ EUR at sample day-ahead curve/);
      // The stored model is the bytes the registry says it is.
      const bytes = await c.store.get({ key: row.artifact_key, sha256: row.artifact_sha256, bytes: Number(row.artifact_bytes) });
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(row.artifact_sha256);

      const audit = await c.db.query('SELECT actor, action, outcome, details FROM audit_events WHERE model = $1 ORDER BY id', [name]);
      const trail = audit.rows.map((r) => `${r.actor} ${r.action} ${r.outcome}`);
      expect(trail).toEqual(
        expect.arrayContaining(['mallory version.approve denied', 'alice version.approve denied', 'alice version.approve ok', 'alice version.promote ok', 'bob version.approve denied']),
      );
      const unknown = await c.db.query("SELECT 1 FROM audit_events WHERE model = 'no-such-model' AND outcome = 'denied'");
      expect(unknown.rowCount).toBeGreaterThan(0);

      expect(await factory.workers.metrics('control')).toContain(`factory_promotions_total{model="${name}"} 1`);
      expect(await factory.workers.metrics('cpu')).toContain(`factory_batches_total{model="${name}",status="accepted"} 2`);
      expect(await factory.workers.metrics('gpu')).toMatch(new RegExp(`factory_training_seconds_count\\{model="${name}",trainer="gbdt",outcome="succeeded"\\} 1`));

      // Nothing new arrived: the retrain gives the champion's bytes, and nobody is asked to approve them again.
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const again = await waitForStage(c, name, ['unchanged'], 120_000).then((r) => JSON.stringify(r.status.outcome), (err: Error) => err.message);
      expect(again).toMatch(/unchanged.*v1's model byte for byte/);
      const versions = await c.db.query('SELECT count(*)::int AS n FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1', [name]);
      expect(versions.rows[0].n).toBe(1);
    });
  });

  test('the next candidate is evaluated against the champion; a rejection keeps the champion', async () => {
    await ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[2])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const { status } = await waitForStage(c, name, ['awaiting-approval'], 120_000);
      expect(status.version).toBe(2);
      expect(status.championVersion).toBe(1);
      expect(status.champion?.quality.rows).toBe(status.candidate?.quality.rows);
      expect(status.verdict?.criteria.some((k) => k.kind === 'non-inferiority')).toBe(true);
      const report = await (await fetch((await reportLink(c, name, status.version)).url)).text();
      expect(report).toContain(`${name}: candidate v2 vs champion v1`);

      const result = await decide(as(c, 'bob'), 'reject', name, '2', { comment: 'not convinced' });
      expect(result.outcome).toMatchObject({ status: 'rejected', version: 2, by: 'bob' });
      expect(await championVersion(name)).toBe(1);
      const approval = await c.db.query(
        'SELECT a.decision, a.decided_by, a.channel, a.comment, v.status FROM approvals a JOIN model_versions v ON v.id = a.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = 2',
        [name],
      );
      expect(approval.rows[0]).toEqual({ decision: 'rejected', decided_by: 'bob', channel: 'cli', comment: 'not convinced', status: 'rejected' });
    });
  });

  test('a signal from the Web UI cannot decide, even in an approver\'s name: the workflow refuses and audits it', async () => {
    const other = uniqueName('credit-ui');
    await registerSpec(creditSpec(other));
    await ctx(async (c) => {
      expect((await ingest(c, other, factory.batches[0])).status).toBe('accepted');
      await requestTraining(c, other, { reason: 'manual', requestedBy: 'test' });
      const { workflowId } = await waitForStage(c, other, ['awaiting-approval'], 120_000);
      const handle = c.client.workflow.getHandle(workflowId);
      await handle.signal(approveSignal, { version: 1, approver: 'bob', comment: 'from the UI' });
      const details = await waitUntil('the refused signal in the audit trail', async () => {
        const r = await c.db.query("SELECT actor, channel, details FROM audit_events WHERE model = $1 AND action = 'version.approve' AND outcome = 'denied'", [other]);
        return r.rowCount ? r.rows[0] : undefined;
      });
      expect(details).toMatchObject({ actor: 'unverified', channel: 'web-ui', details: { claimedBy: 'bob', via: 'signal', workflowId } });
      expect(details.details.reason).toContain('no valid signed assertion');
      const at = await handle.query(pipelineStatusQuery);
      expect(at.stage).toBe('awaiting-approval');
      // Whoever sent it sees why in the Web UI's Current Details.
      expect(at.refused?.[0]).toMatchObject({ via: 'signal', by: 'unverified (claimed bob)', reason: expect.stringContaining('no valid signed assertion') });
      const result = await decide(as(c, 'bob'), 'approve', other, '1', { comment: 'through the approvals service' });
      expect(result.outcome).toEqual({ status: 'promoted', version: 1 });
      const a = await c.db.query(
        'SELECT a.channel, a.decided_by, a.assertion_ids FROM approvals a JOIN model_versions v ON v.id = a.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1',
        [other],
      );
      expect(a.rows[0]).toEqual({ channel: 'cli', decided_by: 'bob', assertion_ids: [result.answer.decision!.votes![0].assertionId] });
    });
  });
});
