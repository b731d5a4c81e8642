import { pipelineStatusQuery, loopStateQuery, loopWorkflowId } from '../../contracts/messages';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { creditSpec, ctx, monthlyBatches, registerSpec, startWorkers, uniqueName, waitUntil } from './helpers';

/** The fault matrix's row "cpu worker killed mid-evaluation": retried on another worker, one evaluation row, a verdict as without the fault. */
describe('a cpu worker killed mid-evaluation', () => {
  test('the evaluation is retried on another cpu worker within the heartbeat timeout, and leaves one evaluation row', async () => {
    const workers = await startWorkers({}, ['control', 'gpu']);
    const firstCpu = await startWorkers({}, ['cpu']);
    let secondCpu: Awaited<ReturnType<typeof startWorkers>> | undefined;
    const name = uniqueName('eval-kill');
    // Two batches: enough held-out rows that the evaluation runs for seconds, not milliseconds.
    await registerSpec(creditSpec(name));
    try {
      await ctx(async (c) => {
        for (const f of monthlyBatches().slice(0, 2)) expect((await ingest(c, name, f)).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        const pipeline = await waitUntil('the pipeline to start', async () => (await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)).running, 30_000);
        await waitUntil('the evaluation to start', async () => ((await c.client.workflow.getHandle(pipeline).query(pipelineStatusQuery)).stage === 'evaluating' ? true : undefined), 120_000);
        const killedAt = Date.now();
        firstCpu.kill('cpu');
        secondCpu = await startWorkers({}, ['cpu']);
        const { status } = await waitForStage(c, name, ['awaiting-approval'], 120_000);
        const recovery = (Date.now() - killedAt) / 1000;
        expect(status.verdict?.passed).toBe(true);
        expect(status.candidate!.metrics.auc).toBeGreaterThan(0.74);
        const rows = await c.db.query('SELECT count(*)::int AS n FROM evaluations e JOIN model_versions v ON v.id = e.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1', [name]);
        expect(rows.rows[0].n).toBe(1);
        // The history shows the attempt that died and the one that finished.
        const history = await c.client.workflow.getHandle(pipeline).fetchHistory();
        const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes && history.events!.find((s) => s.eventId?.toString() === e.activityTaskStartedEventAttributes!.scheduledEventId?.toString())?.activityTaskScheduledEventAttributes?.activityType?.name === 'evaluateCandidate');
        expect(started.at(-1)!.activityTaskStartedEventAttributes!.attempt).toBeGreaterThanOrEqual(2);
        expect(recovery).toBeLessThan(90);
        console.log(`fault matrix:\n| cpu worker killed mid-evaluation | retried; one evaluation row; same verdict | attempt ${started.at(-1)!.activityTaskStartedEventAttributes!.attempt} finished ${recovery.toFixed(0)} s after the kill; ${rows.rows[0].n} evaluation row; verdict passed, AUC ${status.candidate!.metrics.auc!.toFixed(4)} |`);
      });
    } finally {
      await secondCpu?.stop();
      await workers.stop();
    }
  });
});
