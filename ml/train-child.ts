/**
 * Child-process entry for training: CPU-bound work runs here so the worker's
 * event loop stays free to heartbeat. Talks to its parent over IPC only.
 */
import fs from 'node:fs';
import { fromCanonicalCsv } from '../specs/data-batch';
import { parseModelSpec } from '../specs/model-spec';
import { toDataset } from './dataset';
import { splitRows } from './split';
import { runTrainer } from './trainers';

export type ChildMessage =
  | { type: 'progress'; step: number; total: number; message: string; metrics?: Record<string, number> }
  | { type: 'done'; metrics: Record<string, number>; summary: Record<string, unknown>; cpuMs: number; peakRssMb: number }
  | { type: 'checkpoint'; path: string; step: number }
  | { type: 'error'; message: string };

export interface ChildJob {
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

process.once('message', (job: ChildJob) => {
  try {
    const spec = parseModelSpec(job.spec);
    const rows = fromCanonicalCsv(fs.readFileSync(job.snapshotPath, 'utf8'));
    const parts = splitRows(rows, spec.split);
    const f = spec.features.length;
    send({ type: 'progress', step: 0, total: 1, message: `training on ${parts.train.length} rows, validating on ${parts.validation.length}` });
    const model = runTrainer({
      spec,
      params: spec.trainer,
      train: toDataset(parts.train, f),
      validation: toDataset(parts.validation, f),
      onProgress: (p) => send({ type: 'progress', ...p }),
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
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) });
  } finally {
    process.disconnect();
  }
});
