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
  | { type: 'error'; message: string };

export interface ChildJob {
  snapshotPath: string;
  spec: unknown;
  outPath: string;
}

function send(m: ChildMessage): void {
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
