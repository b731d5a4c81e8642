/**
 * Child-process entry for training: CPU-bound work runs here so the worker's
 * event loop stays free to heartbeat. Talks to its parent over IPC only.
 */
import fs from 'node:fs';
import { parseModelSpec } from '../specs/model-spec';
import { splitDataset } from './dataset';
import { readSnapshot } from './snapshot';
import { runTrainer } from './trainers';

/** cpuMs: this process's CPU time so far, which the parent's energy meter counts as the run's. */
export type ChildMessage =
  | { type: 'progress'; step: number; total: number; message: string; metrics?: Record<string, number>; cpuMs: number }
  | { type: 'done'; metrics: Record<string, number>; summary: Record<string, unknown>; cpuMs: number; peakRssMb: number }
  | { type: 'checkpoint'; path: string; step: number }
  | { type: 'error'; message: string };

export interface ChildJob {
  /** The snapshot's Parquet file. */
  snapshotPath: string;
  spec: unknown;
  outPath: string;
  /** A checkpoint file to resume from. */
  resumePath?: string;
  /** Where to write checkpoints; the parent uploads each one it is told about. */
  checkpointDir: string;
}

function send(m: ChildMessage): void {
  // A parent that died (a killed worker) leaves nobody to report to: stop rather than train for no one.
  if (!process.connected) process.exit(1);
  process.send!(m);
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return Math.round((usage.user + usage.system) / 1000);
}

async function train(job: ChildJob): Promise<void> {
  const spec = parseModelSpec(job.spec);
  const parts = splitDataset(await readSnapshot(job.snapshotPath, spec), spec.split);
  if (spec.trainer.kind === 'logistic-regression' && parts.train.x.some(Number.isNaN)) {
    throw new Error('the snapshot has missing values (validation.missingValues: allow), which logistic regression cannot use; train with gbdt');
  }
  send({ type: 'progress', step: 0, total: 1, message: `training on ${parts.train.rows} rows, validating on ${parts.validation.rows}`, cpuMs: cpuMs() });
  const model = runTrainer({
    spec,
    params: spec.trainer,
    train: parts.train,
    validation: parts.validation,
    onProgress: (p) => send({ type: 'progress', ...p, cpuMs: cpuMs() }),
    resume: job.resumePath ? fs.readFileSync(job.resumePath, 'utf8') : undefined,
    onCheckpoint: (checkpoint, step) => {
      const path = `${job.checkpointDir}/checkpoint-${step}.json`;
      fs.writeFileSync(path, checkpoint);
      send({ type: 'checkpoint', path, step });
    },
  });
  fs.writeFileSync(job.outPath, model.onnx);
  const usage = process.resourceUsage();
  send({
    type: 'done',
    metrics: model.metrics,
    summary: model.summary,
    cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
    peakRssMb: Math.round(usage.maxRSS / 1024),
  });
}

process.once('message', (job: ChildJob) => {
  train(job)
    .catch((err) => send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }))
    .finally(() => process.disconnect());
});
