import fs from 'node:fs';
import path from 'node:path';
import type { IngestOutcome } from '../../contracts/payloads';
import type { RowError } from '../../specs/data-batch';
import { submitBatch } from '../../intake/submit';
import { CliError, requireModel, type CliContext } from './context';

/** A CSV or Parquet file from disk into the model's data (the worker tells Parquet by its content). */
export async function ingest(ctx: CliContext, model: string, file: string): Promise<IngestOutcome> {
  if (!fs.existsSync(file)) throw new CliError(`data file ${file} does not exist`);
  await requireModel(ctx, model, { action: 'batch.ingest', details: { file } });
  return submitBatch(ctx, { model, bytes: fs.readFileSync(file), source: path.basename(file), actor: ctx.actor });
}

/** Where a fault is: a CSV line, a Parquet row, or the whole column. */
function where(e: RowError): string {
  if (e.line !== undefined) return `line ${e.line}, column ${e.column}`;
  if (e.row !== undefined) return `row ${e.row}, column ${e.column}`;
  return `column ${e.column}`;
}

export function describeIngest(model: string, file: string, r: IngestOutcome): string {
  const notes = r.notes.map((n) => `  note: ${where(n)}: ${n.message}`);
  if (r.status === 'accepted') {
    const head = `${path.basename(file)}: ${r.duplicate ? 'already ingested as' : 'accepted as'} batch ${r.batchId} of ${model} (${r.rows} rows, sha256 ${r.artifact.sha256.slice(0, 12)})`;
    const retrain = r.retrain && `  ${r.retrain.rows} new rows since the champion's snapshot (threshold ${r.retrain.threshold}): retrain ${r.retrain.coalesced ? 'queued behind the running pipeline' : 'started'}`;
    return [head, ...notes, ...(retrain ? [retrain] : [])].join('\n');
  }
  const lines = [
    `${path.basename(file)}: QUARANTINED as batch ${r.batchId} of ${model}: nothing from it will be used.`,
    `  kept at s3://${r.artifact.key}; ${r.errors.length + r.moreErrors} problem(s):`,
    ...r.errors.map((e) => `  ${where(e)}${e.value !== undefined ? ` (value "${e.value}")` : ''}: ${e.message}`),
  ];
  if (r.moreErrors > 0) lines.push(`  … and ${r.moreErrors} more`);
  return [...lines, ...notes].join('\n');
}
