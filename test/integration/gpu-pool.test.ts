import { trainingPipeline } from '../../workflows/training-pipeline';
import { commandSpec, ctx, monthlyBatches, registerSpec, startWorkers, toGate, uniqueName } from './helpers';

/** One training per GPU: a training worker on a two-GPU host runs two trainings side by side, each on its own device. */
describe('the gpu pool on a host with GPUs', () => {
  test('two trainings run at once on a two-GPU worker, each given its own device through CUDA_VISIBLE_DEVICES', async () => {
    const batches = monthlyBatches();
    const workers = await startWorkers({}, ['control', 'cpu']);
    // FACTORY_GPUS stands in for what nvidia-smi would list on such a host.
    const gpu = await startWorkers({ FACTORY_GPUS: '2' }, ['gpu']);
    try {
      expect(gpu.output('gpu')).toContain('"gpus":["0","1"]');
      const names = [uniqueName('gpu-a'), uniqueName('gpu-b')];
      // Each run holds its device for a few seconds, so two at once overlap if the worker takes them together.
      for (const name of names) {
        await registerSpec(
          commandSpec(name, (raw) => {
            raw.trainer.env = { HOLD_MS: '4000' };
            // Two evaluations share two cores here, so their latency measurement says nothing about the model.
            raw.policy.floors.latencyP99Ms = 1000;
          }),
        );
      }
      const ids = await ctx((c) => Promise.all(names.map((name, i) => toGate(c, name, batches[i]))));
      const spans = await ctx((c) =>
        Promise.all(
          ids.map(async (id) => {
            const events = (await c.client.workflow.getHandle<typeof trainingPipeline>(id).fetchHistory()).events!;
            const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'trainCandidate')!;
            const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
            const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
            const ms = (e: typeof started) => Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
            return [ms(started), ms(completed)];
          }),
        ),
      );
      // Side by side: each started before the other finished.
      expect(spans[0][0]).toBeLessThan(spans[1][1]);
      expect(spans[1][0]).toBeLessThan(spans[0][1]);
      const devices = [...gpu.output('gpu').matchAll(/trainer: DEVICE (\w+)/g)].map((m) => m[1]).sort();
      expect(devices).toEqual(['0', '1']);
    } finally {
      await gpu.stop();
      await workers.stop();
    }
  });
});
