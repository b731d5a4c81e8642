import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { metrics } from '../config/metrics';
import type { PowerSample } from '../energy/telemetry';
import { readSnapshotRows } from '../ml/snapshot';
import type { ChildJob, ChildMessage } from '../ml/train-child';
import type { ModelSpec } from '../specs/model-spec';
import { artifactRefSchema, type ArtifactRef, type ArtifactStore } from '../storage/artifacts';
import { runCommandTrainer } from './command-trainer';
import type { GpuSlots } from '../workers/gpus';
import { configuredPriceSource, meterTraining } from './training-energy';
import type { SnapshotRef, TrainingResult } from '../contracts/payloads';

const CHILD = path.resolve(__dirname, '../ml/train-child.js');
/** The parent heartbeats on its own clock too, so a long step in the child never looks like a dead worker. */
const LIVENESS_MS = 5_000;

/** What each heartbeat carries: progress for the Web UI, and the latest checkpoint for a retry to resume from. */
interface TrainingHeartbeat {
  step?: number;
  total?: number;
  message?: string;
  metrics?: Record<string, number>;
  checkpoint?: ArtifactRef;
  /** The energy meter's latest reading (GPU board power, or the CPU-time estimate). */
  power?: PowerSample;
}

/** Training activities (gpu pool). They need only S3: training hosts get no database credentials. */
export function createTrainingActivities({ store, workDir, priceFeed, gpus }: { store: ArtifactStore; workDir: string; priceFeed?: string; gpus: GpuSlots }) {
  const prices = configuredPriceSource(priceFeed);
  return {
    /**
     * Trains a candidate in a child process, heartbeating its progress and
     * checkpointing to S3; a retry after a lost worker resumes from the last
     * checkpoint. The ONNX model goes to S3; only its reference comes back,
     * with the energy the run drew and its cost.
     */
    async trainCandidate(input: { spec: ModelSpec; snapshot: SnapshotRef }): Promise<TrainingResult> {
      const ctx = Context.current();
      const dir = fs.mkdtempSync(path.join(workDir, `train-${input.spec.name}-`));
      const started = Date.now();
      const timer = metrics.trainingSeconds.startTimer({ model: input.spec.name, trainer: input.spec.trainer.kind });
      let outcome = 'failed';
      const device = gpus.acquire();
      const previous = artifactRefSchema.safeParse((ctx.info.heartbeatDetails as TrainingHeartbeat | undefined)?.checkpoint);
      let beat: TrainingHeartbeat = previous.success ? { checkpoint: previous.data } : {};
      const command = input.spec.trainer.kind === 'command';
      // The child's CPU time, as it last reported it: the CPU estimate's share of the work done off this process.
      let childCpuMs = 0;
      const meter = await meterTraining(prices, {
        device,
        extraCpuMs: () => childCpuMs,
        estimateNote: command ? "the external trainer's own CPU time is not observable, so only the worker's is counted" : undefined,
      }).catch((err) => {
        gpus.release(device);
        throw err;
      });
      if (device !== undefined) ctx.log.info('training on GPU', { device, model: input.spec.name });
      const heartbeat = (update: TrainingHeartbeat = {}) => {
        beat = { ...beat, ...update, power: meter.sample() };
        ctx.heartbeat(beat);
      };
      const liveness = setInterval(heartbeat, LIVENESS_MS);
      try {
        const snapshotPath = path.join(dir, 'snapshot.parquet');
        fs.writeFileSync(snapshotPath, await store.get(input.snapshot.artifact));
        let resumePath: string | undefined;
        if (previous.success) {
          resumePath = path.join(dir, 'resume.json');
          fs.writeFileSync(resumePath, await store.get(previous.data));
          ctx.log.info('resuming training from checkpoint', { checkpoint: previous.data.key, attempt: ctx.info.attempt });
        }
        if (input.spec.trainer.kind === 'command') {
          const run = await runCommandTrainer(
            input.spec,
            input.spec.trainer,
            await readSnapshotRows(snapshotPath, input.spec),
            dir,
            heartbeat,
            (line) => ctx.log.info(`trainer: ${line}`),
            ctx.cancellationSignal,
            device,
          );
          const energy = await meter.finish();
          const artifact = await store.put('models', run.onnx, '.onnx');
          outcome = 'succeeded';
          return { artifact, metrics: run.metrics, summary: { command: input.spec.trainer.command }, wallMs: Date.now() - started, cpuMs: null, peakRssMb: null, energy };
        }
        const outPath = path.join(dir, 'model.onnx');
        const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [], env: device === undefined ? process.env : { ...process.env, CUDA_VISIBLE_DEVICES: device } });
        const abort = () => child.kill('SIGKILL');
        ctx.cancellationSignal.addEventListener('abort', abort);
        let uploads = Promise.resolve();
        const done = await new Promise<Extract<ChildMessage, { type: 'done' }>>((resolve, reject) => {
          child.on('message', (m: ChildMessage) => {
            if (m.type === 'progress') {
              childCpuMs = m.cpuMs;
              heartbeat({ step: m.step, total: m.total, message: m.message, metrics: m.metrics });
              ctx.log.info(`training ${input.spec.name}: ${m.message}`, m.metrics ?? {});
            } else if (m.type === 'checkpoint') {
              // Uploads run in order; a heartbeat names a checkpoint only once it is safely in S3.
              uploads = uploads.then(async () => {
                const ref = await store.put('checkpoints', fs.readFileSync(m.path), '.json', 'application/json');
                fs.rmSync(m.path, { force: true });
                heartbeat({ checkpoint: ref });
                ctx.log.info('checkpoint stored', { step: m.step, checkpoint: ref.key });
              });
            } else if (m.type === 'done') resolve(m);
            else reject(ApplicationFailure.nonRetryable(`training failed: ${m.message}`, 'TrainingError'));
          });
          child.on('error', reject);
          child.on('exit', (code, signal) => {
            if (ctx.cancellationSignal.aborted) reject(ctx.cancellationSignal.reason);
            else reject(new Error(`training process exited (code ${code}, signal ${signal}) before finishing`));
          });
          child.send({ snapshotPath, spec: input.spec, outPath, resumePath, checkpointDir: dir } satisfies ChildJob);
        }).finally(() => ctx.cancellationSignal.removeEventListener('abort', abort));
        childCpuMs = done.cpuMs;
        const energy = await meter.finish();
        await uploads;
        const artifact = await store.put('models', fs.readFileSync(outPath), '.onnx');
        outcome = 'succeeded';
        return {
          artifact,
          metrics: done.metrics,
          summary: done.summary,
          wallMs: Date.now() - started,
          cpuMs: done.cpuMs,
          peakRssMb: done.peakRssMb,
          energy,
        };
      } finally {
        gpus.release(device);
        clearInterval(liveness);
        const energy = await meter.finish();
        if (energy.costError) ctx.log.warn('training cost unknown', { reason: energy.costError, priceSource: energy.priceSource });
        ctx.log.info('training energy', { kWh: energy.kWh, source: energy.source, estimated: energy.estimated, cost: energy.cost, currency: energy.currency });
        timer({ outcome });
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
