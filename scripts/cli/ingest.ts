import fs from 'node:fs';
import path from 'node:path';
import type { IngestResult } from '../../activities/types';
import { TASK_QUEUES } from '../../config/task-queues';
import { ingestBatch } from '../../workflows';
import { CliError, requireModel, type CliContext } from './context';

/** Uploads the file to S3 and has the cpu pool validate it; bytes never travel through Temporal. */
export async function ingest(ctx: CliContext, model: string, file: string): Promise<IngestResult> {
  if (!fs.existsSync(file)) throw new CliError(`data file ${file} does not exist`);
  await requireModel(ctx, model, { action: 'batch.ingest', details: { file } });
  const upload = await ctx.store.put('uploads', fs.readFileSync(file), path.extname(file), 'text/csv');
  return ctx.client.workflow.execute(ingestBatch, {
    taskQueue: TASK_QUEUES.control,
    // The same bytes for the same model are one batch, however often they are sent.
    workflowId: `ingest-${model}-${upload.sha256.slice(0, 16)}`,
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    args: [{ model, source: path.basename(file), upload, actor: ctx.actor }],
  });
}

export function describeIngest(model: string, file: string, r: IngestResult): string {
  if (r.status === 'accepted') {
    return `${path.basename(file)}: ${r.duplicate ? 'already ingested as' : 'accepted as'} batch ${r.batchId} of ${model} (${r.rows} rows, sha256 ${r.artifact.sha256.slice(0, 12)})`;
  }
  const lines = [
    `${path.basename(file)}: QUARANTINED as batch ${r.batchId} of ${model}: nothing from it will be used.`,
    `  kept at s3://${r.artifact.key}; ${r.errors.length + r.moreErrors} problem(s):`,
    ...r.errors.map((e) => `  line ${e.line}, column ${e.column}${e.value !== undefined ? ` (value "${e.value}")` : ''}: ${e.message}`),
  ];
  if (r.moreErrors > 0) lines.push(`  … and ${r.moreErrors} more`);
  return lines.join('\n');
}
