import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { metrics } from '../config/metrics';
import type { ChildJob, ChildMessage } from '../ml/train-child';
import type { ModelSpec } from '../specs/model-spec';
import type { ArtifactStore } from '../storage/artifacts';
import type { SnapshotRef, TrainingResult } from './types';

const CHILD = path.resolve(__dirname, '../ml/train-child.js');

/** Training activities (gpu pool). They need only S3: training hosts get no database credentials. */
export function createTrainingActivities({ store, workDir }: { store: ArtifactStore; workDir: string }) {
  return {
    /** Trains a candidate in a child process, heartbeating its progress, and stores the ONNX model in S3. */
    async trainCandidate(input: { spec: ModelSpec; snapshot: SnapshotRef }): Promise<TrainingResult> {
      const ctx = Context.current();
      const dir = fs.mkdtempSync(path.join(workDir, `train-${input.spec.name}-`));
      const started = Date.now();
      const timer = metrics.trainingSeconds.startTimer({ model: input.spec.name, trainer: input.spec.trainer.kind });
      let outcome = 'failed';
      try {
        const snapshotPath = path.join(dir, 'snapshot.csv');
        fs.writeFileSync(snapshotPath, await store.get(input.snapshot.artifact));
        const outPath = path.join(dir, 'model.onnx');
        const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
        const abort = () => child.kill('SIGKILL');
        ctx.cancellationSignal.addEventListener('abort', abort);
        const done = await new Promise<Extract<ChildMessage, { type: 'done' }>>((resolve, reject) => {
          child.on('message', (m: ChildMessage) => {
            if (m.type === 'progress') {
              ctx.heartbeat(m);
              ctx.log.info(`training ${input.spec.name}: ${m.message}`, m.metrics ?? {});
            } else if (m.type === 'done') resolve(m);
            else reject(ApplicationFailure.nonRetryable(`training failed: ${m.message}`, 'TrainingError'));
          });
          child.on('error', reject);
          child.on('exit', (code, signal) => {
            if (ctx.cancellationSignal.aborted) reject(ctx.cancellationSignal.reason);
            else reject(new Error(`training process exited (code ${code}, signal ${signal}) before finishing`));
          });
          child.send({ snapshotPath, spec: input.spec, outPath } satisfies ChildJob);
        }).finally(() => ctx.cancellationSignal.removeEventListener('abort', abort));
        const artifact = await store.put('models', fs.readFileSync(outPath), '.onnx');
        outcome = 'succeeded';
        return {
          artifact,
          metrics: done.metrics,
          summary: done.summary,
          wallMs: Date.now() - started,
          cpuMs: done.cpuMs,
          peakRssMb: done.peakRssMb,
        };
      } finally {
        timer({ outcome });
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
