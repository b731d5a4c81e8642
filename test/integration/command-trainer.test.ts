import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { commandSpec, ctx, withWorkers, registerSpec, uniqueName } from './helpers';

// A secret the training workers hold; specs name it, the trainer gets it, nothing else sees it.
const SECRET = `s-${Math.random().toString(36).slice(2)}-${Date.now()}`;
process.env.FACTORY_SECRET_TRAINER_DEMO = SECRET;

describe('the command trainer', () => {
  const factory = withWorkers();


  test('runs an external program that writes ONNX; its output is logged, its progress heartbeated; it sees no worker credentials, and a named secret', async () => {
    const name = uniqueName('credit-command');
    await registerSpec(commandSpec(name, (raw) => (raw.trainer.env = { API_TOKEN: { secret: 'TRAINER_DEMO' } })));
    await ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const { status } = await waitForStage(c, name, ['awaiting-approval'], 60_000);
      expect(status.candidate!.infra.passed).toBe(true);
      expect(status.candidate!.metrics.auc).toBeGreaterThan(0.65);
      await factory.workers.waitForOutput('gpu', 'trainer: METRICS');
      await factory.workers.waitForOutput('gpu', 'trainer: read ');
      await factory.workers.waitForOutput('gpu', 'trainer: ENV ');
      const seen = JSON.parse(/trainer: ENV (\{.*?\})"/.exec(factory.workers.output('gpu'))![1].replace(/\\"/g, '"'));
      expect(seen.secretLength).toBe(SECRET.length);
      for (const credential of ['S3_SECRET_ACCESS_KEY', 'S3_ACCESS_KEY_ID', 'DATABASE_URL', 'FACTORY_SECRET_TRAINER_DEMO', 'FACTORY_TEST_TOKENS']) expect(seen.names).not.toContain(credential);
      expect(factory.workers.output('gpu')).not.toContain(SECRET);
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
