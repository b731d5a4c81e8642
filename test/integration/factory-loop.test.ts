import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { TASK_QUEUES } from '../../config/task-queues';
import type { factoryLoop } from '../../workflows';
import { loopStateQuery, loopWorkflowId, requestTrainingSignal } from '../../contracts/messages';
import type { Trigger } from '../../contracts/payloads';
import { as, creditSpec, ctx, registerSpec, uniqueName, withWorkers } from './helpers';

describe('the per-model factory loop', () => {
  const factory = withWorkers();

  test('requests during a running pipeline are coalesced into one follow-up, not doubled', async () => {
    const name = uniqueName('credit-loop');
    await registerSpec(creditSpec(name));
    await ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'first' });
      const first = await waitForStage(c, name, ['awaiting-approval'], 60_000);
      for (const who of ['second', 'third', 'fourth']) await requestTraining(c, name, { reason: 'manual', requestedBy: who });
      const state = await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery);
      expect(state).toMatchObject({ running: first.workflowId, pending: { requestedBy: 'second' }, coalesced: 3 });

      await decide(as(c, 'alice'), 'reject', name, '1', { comment: 'make way for the follow-up' });
      const second = await waitForStage(c, name, ['awaiting-approval'], 60_000);
      expect(second.workflowId).not.toBe(first.workflowId);
      expect(second.status.trigger.requestedBy).toBe('second');
      const after = await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery);
      expect(after.pending).toBeUndefined();

      let pipelines = 0;
      for await (const _ of c.client.workflow.list({ query: `FactoryModel = "${name}" AND WorkflowType = "trainingPipeline"` })) pipelines++;
      expect(pipelines).toBe(2);
    });
  });

  test('continues as new after its run length, carrying the pending request and counters across the hand-over', async () => {
    const name = uniqueName('credit-can');
    await registerSpec(creditSpec(name));
    await ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      const loop = await c.client.workflow.signalWithStart<typeof factoryLoop, [Trigger]>('factoryLoop' satisfies (typeof factoryLoop)['name'], {
        workflowId: loopWorkflowId(name),
        taskQueue: TASK_QUEUES.control,
        args: [{ model: name, pipelinesPerRun: 1 }],
        signal: requestTrainingSignal,
        signalArgs: [{ reason: 'manual', requestedBy: 'first' }],
      });
      await waitForStage(c, name, ['awaiting-approval'], 60_000);
      await c.client.workflow.getHandle(loopWorkflowId(name)).signal(requestTrainingSignal, { reason: 'manual', requestedBy: 'second' });
      const firstRun = (await loop.describe()).runId;
      await decide(as(c, 'alice'), 'reject', name, '1', { comment: 'hand over' });
      const second = await waitForStage(c, name, ['awaiting-approval'], 60_000);
      expect(second.status.trigger.requestedBy).toBe('second');
      const current = c.client.workflow.getHandle(loopWorkflowId(name));
      expect((await current.describe()).runId).not.toBe(firstRun);
      expect(await current.query(loopStateQuery)).toMatchObject({ completed: 1, running: second.workflowId });
    });
  });
});

