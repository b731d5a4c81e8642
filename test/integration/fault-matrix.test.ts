import fs from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SigningKey, signingKeyFile } from '../../approvals/signing-key';
import { approveUpdate, loopStateQuery, loopWorkflowId, rejectSignal } from '../../contracts/messages';
import type { PipelineOutcome } from '../../contracts/payloads';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { as, commandSpec, ctx, registerSpec, rowsFrom, startServing, testEnv, toGate, uniqueName, waitUntil, withWorkers } from './helpers';

/**
 * Rows of the fault matrix (the others live beside the code they test:
 * restart, training-resume, rollout, ingest's poison batches), each against
 * the real services, printing what it saw.
 */
describe('the fault matrix', () => {
  const factory = withWorkers();
  const table: string[] = ['| fault | expected | seen |', '|---|---|---|'];
  afterAll(() => console.log(`fault matrix:\n${table.join('\n')}`));

  test("an artifact's bytes corrupted in S3: refused by sha256 in the workers and in serving, the pipeline fails saying so, the champion keeps serving, and the same bytes written again heal it", async () => {
    const name = uniqueName('corrupt');
    await registerSpec(commandSpec(name));
    const first = await startServing();
    let second: Awaited<ReturnType<typeof startServing>> | undefined;
    try {
      await ctx(async (c) => {
        expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        await waitForStage(c, name, ['awaiting-approval'], 120_000);
        expect((await decide(as(c, 'alice'), 'approve', name, '1')).outcome?.status).toBe('promoted');
        const [row] = rowsFrom(factory.batches[3]);
        const predict = (base: string) => fetch(`${base}/v1/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [row] }) });
        await waitUntil('the first replica to serve v1', async () => ((await predict(first.base)).status === 200 ? true : undefined), 30_000);

        // The champion's ONNX overwritten in place: same key, other bytes.
        const v1 = await c.db.query<{ artifact_key: string; artifact_sha256: string; artifact_bytes: string }>(
          'SELECT v.artifact_key, v.artifact_sha256, v.artifact_bytes FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = 1',
          [name],
        );
        const trained = await c.store.get({ key: v1.rows[0].artifact_key, sha256: v1.rows[0].artifact_sha256, bytes: Number(v1.rows[0].artifact_bytes) });
        await c.store.client.send(new PutObjectCommand({ Bucket: c.store.bucket, Key: v1.rows[0].artifact_key, Body: Buffer.from('not the model that was trained') }));

        // A replica starting now refuses the bytes and serves the other models; the one running keeps v1 in memory.
        second = await startServing();
        const log = await waitUntil('the new replica to refuse the corrupt champion', async () => {
          const text = fs.readFileSync(second!.logFile, 'utf8');
          return text.includes(name) && text.includes('is corrupt: expected sha256') ? text : undefined;
        }, 30_000);
        expect(log).toContain("cannot load this model's versions");
        expect((await predict(second.base)).status).toBe(404);
        expect((await predict(first.base)).status).toBe(200);

        // A retrain evaluates the champion beside the candidate: the evaluation refuses the corrupt bytes and the pipeline fails with that reason.
        expect((await ingest(c, name, factory.batches[1])).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        const failure = await waitForStage(c, name, ['awaiting-approval'], 120_000).then(() => 'reached the gate', (err: Error) => err.message);
        expect(failure).toContain(`artifact ${v1.rows[0].artifact_key} is corrupt: expected sha256`);
        expect((await predict(first.base)).status).toBe(200);
        // Content addressing: writing the trained bytes again (as any training that makes them does) repairs the object.
        const healed = await c.store.put('models', trained, '.onnx');
        expect(healed.key).toBe(v1.rows[0].artifact_key);
        expect(Buffer.compare(await c.store.get(healed), trained)).toBe(0);
        table.push(`| artifact bytes corrupted in S3 | refused by sha256; pipeline fails with the reason; champion serves | new replica refused it (404, logged), pipeline failed: "${failure.slice(failure.indexOf('artifact '), failure.indexOf('artifact ') + 60)}…", running replica 200 |`);
      });
    } finally {
      await second?.stop();
      await first.stop();
    }
  });

  test('two triggers for the same model at the same moment: one pipeline and one follow-up', async () => {
    const name = uniqueName('twice');
    await registerSpec(commandSpec(name));
    await ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      const answers = await Promise.all([
        requestTraining(c, name, { reason: 'manual', requestedBy: 'test', detail: 'first' }),
        requestTraining(c, name, { reason: 'manual', requestedBy: 'test', detail: 'second' }),
        requestTraining(c, name, { reason: 'manual', requestedBy: 'test', detail: 'third' }),
      ]);
      const { workflowId } = await waitForStage(c, name, ['awaiting-approval'], 120_000);
      const state = await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery);
      expect(state.running).toBe(workflowId);
      // The later two arrived while one ran: both coalesced into one follow-up, waiting for it.
      expect(state.pending).toBeDefined();
      expect(state.coalesced).toBe(2);
      const pipelines = await c.db.query("SELECT count(*)::int AS n FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1", [name]);
      expect(pipelines.rows[0].n).toBe(1);
      table.push(`| three triggers at once | one pipeline, one follow-up | running ${workflowId.slice(-8)}, follow-up pending (${state.coalesced} coalesced), ${pipelines.rows[0].n} version; queued answers ${answers.map((a) => a.queued).join('/')} |`);
    });
  });

  test('duplicate and concurrent decisions (the same update twice, an update and a signal, two approvers at the same moment): exactly one decision recorded, the others told why', async () => {
    const name = uniqueName('race');
    await registerSpec(commandSpec(name));
    await ctx(async (c) => {
      const workflowId = await toGate(c, name, factory.batches[0]);
      const handle = c.client.workflow.getHandle(workflowId);
      const key = SigningKey.loadOrCreate(signingKeyFile(testEnv()));
      const claims = { workflowId, model: name, version: 1, channel: 'cli' as const };
      const bobs = key.sign({ ...claims, action: 'approve', identity: 'bob' });
      const said = (p: Promise<{ decision?: { decision: string; approver: string } }>) =>
        p.then((a) => (a.decision ? `${a.decision.decision} by ${a.decision.approver}` : 'vote counted, no decision yet'), (e: Error & { cause?: Error }) => `refused: ${e.cause?.message ?? e.message}`);
      const [sameA, sameB, replayed, alice, carol] = await Promise.all([
        // The same update twice (one update id, as a client retrying it would send it).
        said(handle.executeUpdate(approveUpdate, { args: [{ version: 1, assertion: bobs }], updateId: `bob-${workflowId}` })),
        said(handle.executeUpdate(approveUpdate, { args: [{ version: 1, assertion: bobs }], updateId: `bob-${workflowId}` })),
        // The same signed assertion in another update.
        said(handle.executeUpdate(approveUpdate, { args: [{ version: 1, assertion: bobs }] })),
        // Two other approvers at the same moment, through the approvals service.
        said(decide(as(c, 'alice'), 'reject', name, '1', {}, 0).then((r) => r.answer)),
        said(decide(as(c, 'carol'), 'approve', name, '1', {}, 0).then((r) => r.answer)),
        // A signal beside them, as the Web UI sends it, with a valid assertion of alice's.
        handle.signal(rejectSignal, { version: 1, assertion: key.sign({ ...claims, action: 'reject', identity: 'alice' }) }),
      ]);
      const answers = [sameA, replayed, alice, carol];
      const decided = answers.filter((a) => !a.startsWith('refused'));
      expect(sameB).toBe(sameA);
      // One answer won; every other one is refused with the decision it met ("v1 was already approved by bob"), the vote its
      // person already cast ('"alice" already rejected'), or as a replay of an assertion already used.
      expect(decided.length).toBeLessThanOrEqual(1);
      for (const a of answers.filter((x) => x.startsWith('refused'))) expect(a).toMatch(/was already (approved|rejected) by (bob|alice|carol)|"(alice|bob|carol)" already (approved|rejected)|was already used/);
      const outcome = (await handle.result()) as PipelineOutcome;
      const recorded = await c.db.query<{ decision: string; decided_by: string }>(
        'SELECT a.decision, a.decided_by FROM approvals a JOIN model_versions v ON v.id = a.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1',
        [name],
      );
      expect(recorded.rows).toHaveLength(1);
      const votes = await c.db.query('SELECT 1 FROM approval_votes av JOIN model_versions v ON v.id = av.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1', [name]);
      expect(votes.rowCount).toBe(1);
      const { decision, decided_by: by } = recorded.rows[0];
      expect(outcome.status).toBe(decision === 'approved' ? 'promoted' : 'rejected');
      // The winner, if it came by update or CLI, was told so; if the signal won, every caller was refused and the audit trail says why.
      if (decided.length === 1) expect(decided[0]).toBe(`${decision} by ${by}`);
      const deniedSignals = await c.db.query("SELECT 1 FROM audit_events WHERE model = $1 AND outcome = 'denied' AND details->>'via' = 'signal'", [name]);
      table.push(`| same update twice, a replayed assertion, an update beside a signal, two approvers at once | exactly one decision; the others get a clear answer | 1 decision (${decision} by ${by}), 1 vote row; answers: ${[sameA, sameB, replayed, alice, carol].map((a) => `"${a.slice(0, 48)}"`).join(', ')}; ${deniedSignals.rowCount} signal refused in the audit trail |`);
    });
  });
});

