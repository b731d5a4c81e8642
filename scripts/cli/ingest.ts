import fs from 'node:fs';
import path from 'node:path';
import type { IngestOutcome } from '../../activities/types';
import type { RowError } from '../../specs/data-batch';
import { TASK_QUEUES } from '../../config/task-queues';
import { ingestBatch } from '../../workflows';
import { CliError, requireModel, type CliContext } from './context';

/**
 * Uploads a CSV or Parquet file to S3 and has the cpu pool validate it; bytes
 * never travel through Temporal. The worker tells Parquet by its content, so
 * the extension only labels the upload.
 */
export async function ingest(ctx: CliContext, model: string, file: string): Promise<IngestOutcome> {
  if (!fs.existsSync(file)) throw new CliError(`data file ${file} does not exist`);
  await requireModel(ctx, model, { action: 'batch.ingest', details: { file } });
  const type = path.extname(file).toLowerCase() === '.parquet' ? 'application/vnd.apache.parquet' : 'text/csv';
  const upload = await ctx.store.put('uploads', fs.readFileSync(file), path.extname(file), type);
  return ctx.client.workflow.execute(ingestBatch, {
    taskQueue: TASK_QUEUES.control,
    // The same bytes for the same model are one batch, however often they are sent.
    workflowId: `ingest-${model}-${upload.sha256.slice(0, 16)}`,
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    args: [{ model, source: path.basename(file), upload, actor: ctx.actor }],
  });
}

/** Where a fault is: a CSV line, a Parquet row, or the whole column. */
function where(e: RowError): string {
  if (e.line !== undefined) return `line ${e.line}, column ${e.column}`;
  if (e.row !== undefined) return `row ${e.row}, column ${e.column}`;
  return `column ${e.column}`;
}

export function describeIngest(model: string, file: string, r: IngestOutcome): string {
  if (r.status === 'accepted') {
    const head = `${path.basename(file)}: ${r.duplicate ? 'already ingested as' : 'accepted as'} batch ${r.batchId} of ${model} (${r.rows} rows, sha256 ${r.artifact.sha256.slice(0, 12)})`;
    if (!r.retrain) return head;
    return `${head}\n  ${r.retrain.rows} new rows since the champion's snapshot (threshold ${r.retrain.threshold}): retrain ${r.retrain.coalesced ? 'queued behind the running pipeline' : 'started'}`;
  }
  const lines = [
    `${path.basename(file)}: QUARANTINED as batch ${r.batchId} of ${model}: nothing from it will be used.`,
    `  kept at s3://${r.artifact.key}; ${r.errors.length + r.moreErrors} problem(s):`,
    ...r.errors.map((e) => `  ${where(e)}${e.value !== undefined ? ` (value "${e.value}")` : ''}: ${e.message}`),
  ];
  if (r.moreErrors > 0) lines.push(`  … and ${r.moreErrors} more`);
  return lines.join('\n');
}
