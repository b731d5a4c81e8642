import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { loopStateQuery, loopWorkflowId } from '../../contracts/messages';
import { creditSpec, ctx, monthlyBatches, registerSpec, startWorkers, uniqueName, waitUntil } from './helpers';

describe('a training worker killed mid-run', () => {
  test('the retry on another worker resumes from the last checkpoint in S3, not from zero', async () => {
    const base = await startWorkers({}, ['control', 'cpu']);
    const firstGpu = await startWorkers({}, ['gpu']);
    let secondGpu: Awaited<ReturnType<typeof startWorkers>> | undefined;
    try {
      const name = uniqueName('credit-resume');
      await registerSpec(
        creditSpec(name, (raw) => {
          // Long enough (tens of seconds) that a heartbeat naming a checkpoint reaches the server before training ends.
          raw.trainer = { kind: 'gbdt', trees: 6000, learningRate: 0.003, maxDepth: 6, earlyStoppingRounds: 0 };
          raw.policy = { floors: { auc: 0.6 } };
        }),
      );
      await ctx(async (c) => {
        const batches = monthlyBatches();
        for (const b of batches.slice(0, 2)) expect((await ingest(c, name, b)).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        await firstGpu.waitForOutput('gpu', '"msg":"checkpoint stored"');
        // Kill only once the server holds a heartbeat naming a checkpoint: that is what the retry reads.
        const pipeline = await waitUntil('the pipeline', async () => (await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)).running);
        await waitUntil('a checkpoint in the training heartbeat', async () => {
          const d = await c.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: pipeline } });
          const payload = d.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0]?.data;
          return payload && JSON.parse(Buffer.from(payload).toString('utf8')).checkpoint ? true : undefined;
        });
        firstGpu.kill('gpu');
        secondGpu = await startWorkers({}, ['gpu']);
        // Temporal notices the silence after the heartbeat timeout and retries the activity on the new worker.
        await waitForStage(c, name, ['awaiting-approval'], 150_000);
        await secondGpu.waitForOutput('gpu', 'resuming training from checkpoint');
        const run = await c.db.query(
          'SELECT t.metrics FROM training_runs t JOIN models m ON m.id = t.model_id WHERE m.name = $1',
          [name],
        );
        expect(run.rows[0].metrics.resumedFromTree).toBeGreaterThanOrEqual(25);
        expect(run.rows[0].metrics.trees).toBe(6000);
      });
    } finally {
      await secondGpu?.stop();
      await firstGpu.stop();
      await base.stop();
    }
  });
});
