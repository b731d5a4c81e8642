import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { IngestOutcome } from '../contracts/payloads';
import { TASK_QUEUES } from '../config/task-queues';
import { isParquet } from '../data/format';
import type { ArtifactStore } from '../storage/artifacts';
import type { ingestBatch } from '../workflows';

/**
 * Every way a batch arrives (CLI, HTTP, the S3 landing area) ends here: the
 * bytes are stored content-addressed in S3 and the ingest workflow validates
 * them on the cpu pool; bytes never travel through Temporal. The same bytes for
 * the same model are one batch, however often or however they are sent.
 */
export async function submitBatch(deps: { client: Client; store: ArtifactStore }, input: { model: string; bytes: Buffer; source: string; actor: string }): Promise<IngestOutcome> {
  const parquet = isParquet(input.bytes);
  const ext = parquet ? '.parquet' : path.extname(input.source) || '.csv';
  const upload = await deps.store.put('uploads', input.bytes, ext, parquet ? 'application/vnd.apache.parquet' : 'text/csv');
  return deps.client.workflow.execute<typeof ingestBatch>('ingestBatch' satisfies (typeof ingestBatch)['name'], {
    taskQueue: TASK_QUEUES.control,
    workflowId: `ingest-${input.model}-${upload.sha256.slice(0, 16)}`,
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    args: [{ model: input.model, source: input.source, upload, actor: input.actor }],
  });
}
