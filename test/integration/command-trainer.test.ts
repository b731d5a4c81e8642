import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { commandSpec, ctx, withWorkers, registerSpec, uniqueName } from './helpers';

describe('the command trainer', () => {
  const factory = withWorkers();


  test('runs an external program that writes ONNX; its output is logged, its progress heartbeated', async () => {
    const name = uniqueName('credit-command');
    await registerSpec(commandSpec(name));
    await ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const { status } = await waitForStage(c, name, ['awaiting-approval'], 60_000);
      expect(status.candidate!.infra.passed).toBe(true);
      expect(status.candidate!.quality.auc).toBeGreaterThan(0.65);
      await factory.workers.waitForOutput('gpu', 'trainer: METRICS');
      await factory.workers.waitForOutput('gpu', 'trainer: read ');
      const run = await c.db.query('SELECT t.metrics, t.cpu_ms FROM training_runs t JOIN models m ON m.id = t.model_id WHERE m.name = $1', [name]);
      expect(run.rows[0].metrics.iterations).toBeGreaterThan(0);
      expect(run.rows[0].cpu_ms).toBeNull();
    });
  });

  test('a failing program fails the pipeline with its last output, and nothing is registered', async () => {
    const name = uniqueName('credit-command-fail');
    await registerSpec(commandSpec(name, (raw) => (raw.trainer.env = { FAIL_AFTER_TRAINING: '1' })));
    await ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      await expect(waitForStage(c, name, ['awaiting-approval'], 60_000)).rejects.toThrow(/exited with code 3; its last output:[\s\S]*simulated failure after training/);
      const versions = await c.db.query('SELECT 1 FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1', [name]);
      expect(versions.rowCount).toBe(0);
    });
  });
});
