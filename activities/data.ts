import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { metrics } from '../config/metrics';
import { checkAgainstSnapshot, type ReferenceStats } from '../data/batch-checks';
import { csvLine } from '../data/csv';
import { isParquet } from '../data/format';
import { buildParquetSnapshot, columnStats, parquetToCsv, readParquetColumns, snapshotColumns } from '../data/parquet';
import { audit, findModel } from '../db/models';
import { inTransaction } from '../db/pool';
import { splitsOf } from '../ml/split';
import { batchText, toCanonicalCsv, validateBatch, type BatchValidation, type RowError } from '../specs/data-batch';
import { dataSchemaOf, rowKeyColumn, type ModelSpec } from '../specs/model-spec';
import { labelClasses, labelColumn } from '../specs/label';
import { refOf, sha256, type ArtifactRef } from '../storage/artifacts';
import type { ActivityDeps } from './deps';
import { inScratch } from './scratch';
import type { IngestResult, SnapshotRef } from '../contracts/payloads';

interface BatchRecord {
  id: string;
  source: string;
  status: 'accepted' | 'quarantined';
  data_schema_sha256: string | null;
  row_count: number;
  artifact_key: string;
  artifact_sha256: string;
  artifact_bytes: string;
  report: { errors?: IngestResult['errors']; moreErrors?: number; notes?: IngestResult['notes'] };
}

const PARQUET_TYPE = 'application/vnd.apache.parquet';

/** A Parquet file has rows, not lines: its faults are numbered by data row (CSV line 2 is row 1), header faults by column alone. */
function byRow({ line, ...fault }: RowError): RowError {
  return line === undefined || line < 2 ? fault : { row: line - 1, ...fault };
}

/**
 * A batch stored under an earlier spec (its columns differ from the current
 * canonical ones), validated again under the current spec: the columns the
 * spec now needs are taken by name, ones it no longer uses dropped. One it
 * needs that the batch never had fails the snapshot, naming the batch, its
 * source and the column: nothing is dropped or guessed.
 */
function underCurrentSpec(spec: ModelSpec, b: BatchRecord, stored: string): string {
  // Stored labels are already what the model learns (0 or 1, a class's place, a value), not the values the file had.
  const classes = labelClasses(spec);
  const label = spec.task === 'regression' ? spec.label : classes ? { column: labelColumn(spec), classes: classes.map((_, k) => k) } : labelColumn(spec);
  const v = validateBatch({ ...spec, label }, stored);
  if (v.errors.length > 0) {
    const faults = v.errors.slice(0, 5).map((e) => `${e.line !== undefined ? `line ${e.line}, ` : ''}column ${e.column}: ${e.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(
      `batch ${b.id} (${b.source}), accepted under an earlier spec, does not fit the current one: ${faults}${v.errors.length > 5 ? '; …' : ''}. Re-ingest ${b.source} with what the spec now needs (it is validated again in its place), or change the spec back`,
      'BatchDoesNotFitSpec',
    );
  }
  return toCanonicalCsv(spec, v.rows);
}

/** Data activities (cpu pool): batch validation with quarantine, and immutable Parquet snapshots. */
export function createDataActivities({ db, store, workDir }: Pick<ActivityDeps, 'db' | 'store' | 'workDir'>) {
  /** A Parquet upload, read by DuckDB into the CSV validator; a file DuckDB cannot read is a fault of the batch, not of the activity. */
  async function validateParquet(spec: ModelSpec, bytes: Buffer): Promise<BatchValidation> {
    return inScratch(workDir, 'ingest-', async (dir) => {
      const file = path.join(dir, 'batch.parquet');
      fs.writeFileSync(file, bytes);
      let csv: string;
      try {
        csv = await parquetToCsv(file, path.join(dir, 'batch.csv'));
      } catch (err) {
        return { rows: [], errors: [{ column: '*', message: `not a readable Parquet file: ${(err as Error).message}` }], notes: [], moreErrors: 0, rowCount: 0 };
      }
      const result = validateBatch(spec, csv);
      return { ...result, errors: result.errors.map(byRow), notes: result.notes.map(byRow) };
    });
  }

  /** A CSV batch's validation, or its fault where its bytes are not UTF-8. */
  function validateText(spec: ModelSpec, bytes: Buffer): BatchValidation {
    const decoded = batchText(bytes);
    if ('error' in decoded) return { rows: [], errors: [decoded.error], notes: [], moreErrors: 0, rowCount: 0 };
    return validateBatch(spec, decoded.text);
  }

  /** A batch far larger than the model's usual ones (validation.maxBatchGrowth × the median of its accepted batches, once there are three). */
  async function rowSpike(modelId: number, spec: ModelSpec, rows: number, replacing?: string): Promise<RowError | undefined> {
    const growth = spec.validation.maxBatchGrowth;
    if (growth === 0) return undefined;
    const r = await db.query<{ n: number; median: number | null }>(
      "SELECT count(*)::int AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY row_count) AS median FROM data_batches WHERE model_id = $1 AND status = 'accepted' AND id <> $2",
      [modelId, replacing ?? -1],
    );
    const { n, median } = r.rows[0];
    if (n < 3 || median === null || rows <= growth * median) return undefined;
    return {
      column: '*',
      message: `${rows} rows, more than ${growth}× the median accepted batch of this model (${median} rows over ${n} batches): a feed that repeats itself or the wrong table? (validation.maxBatchGrowth; send it in parts, or raise the limit for a backfill)`,
    };
  }

  /** The statistics of the model's latest snapshot: what its next model trains on, so what a new batch must resemble. */
  async function referenceStats(modelId: number): Promise<ReferenceStats | undefined> {
    const r = await db.query<{ artifact_sha256: string; stats: ReferenceStats['stats'] }>(
      'SELECT artifact_sha256, stats FROM dataset_snapshots WHERE model_id = $1 AND stats IS NOT NULL ORDER BY id DESC LIMIT 1',
      [modelId],
    );
    return r.rows[0] && { sha256: r.rows[0].artifact_sha256, stats: r.rows[0].stats };
  }

  return {
    /**
     * Validates an uploaded batch (CSV, or Parquet by its magic bytes) against
     * the model's schema and then against the latest snapshot's column
     * statistics. A valid batch is stored as canonical CSV and accepted whole;
     * an invalid one is kept byte-for-byte in quarantine with its row- and
     * column-level report, and nothing of it reaches a snapshot.
     */
    async ingestBatch(input: { model: string; source: string; upload: ArtifactRef; actor: string }): Promise<IngestResult> {
      const model = await findModel(db, input.model).catch((err) => {
        throw ApplicationFailure.nonRetryable(err.message, 'UnknownModel');
      });
      const schema = sha256(JSON.stringify(dataSchemaOf(model.spec)));
      const existing = await db.query<BatchRecord>(
        'SELECT id, source, status, data_schema_sha256, row_count, artifact_key, artifact_sha256, artifact_bytes, report FROM data_batches WHERE model_id = $1 AND source_sha256 = $2',
        [model.id, input.upload.sha256],
      );
      // The same file under the same data schema is the same batch; under a changed schema it is validated again, in its place.
      const previous = existing.rows[0];
      if (previous && previous.data_schema_sha256 === schema) {
        const b = previous;
        return {
          batchId: Number(b.id),
          status: b.status,
          duplicate: true,
          rows: b.row_count,
          artifact: refOf(b),
          errors: b.report.errors ?? [],
          moreErrors: b.report.moreErrors ?? 0,
          notes: b.report.notes ?? [],
        };
      }
      const bytes = await store.get(input.upload);
      const parquet = isParquet(bytes);
      Context.current().heartbeat({ stage: 'validating', bytes: bytes.byteLength, format: parquet ? 'parquet' : 'csv' });
      let result = parquet ? await validateParquet(model.spec, bytes) : validateText(model.spec, bytes);
      if (result.errors.length === 0) {
        const spike = await rowSpike(model.id, model.spec, result.rowCount, previous?.id);
        if (spike) result = { ...result, rows: [], errors: [spike] };
      }
      const reference = result.errors.length === 0 ? await referenceStats(model.id) : undefined;
      if (reference) {
        const faults = checkAgainstSnapshot(model.spec, result.rows, reference);
        if (faults.length > 0) result = { ...result, rows: [], errors: faults };
      }
      const accepted = result.errors.length === 0;
      const artifact = accepted
        ? await store.put('batches', toCanonicalCsv(model.spec, result.rows), '.csv', 'text/csv')
        : await store.put('quarantine', bytes, parquet ? '.parquet' : '.csv', parquet ? PARQUET_TYPE : 'text/csv');
      const notes = result.notes.length > 0 ? { notes: result.notes } : {};
      const report = accepted ? notes : { errors: result.errors, moreErrors: result.moreErrors, ...notes };
      const batchId = await inTransaction(db, async (tx) => {
        const values = [accepted ? 'accepted' : 'quarantined', result.rowCount, artifact.key, artifact.sha256, artifact.bytes, JSON.stringify(report), schema];
        // A batch validated again keeps its id, so its place among the batches (a later one's row replaces an earlier one's) stays.
        const row = previous
          ? await tx.query<{ id: string }>(
              'UPDATE data_batches SET status = $2, row_count = $3, artifact_key = $4, artifact_sha256 = $5, artifact_bytes = $6, report = $7, data_schema_sha256 = $8 WHERE id = $1 RETURNING id',
              [previous.id, ...values],
            )
          : await tx.query<{ id: string }>(
              `INSERT INTO data_batches (model_id, source, source_sha256, status, row_count, artifact_key, artifact_sha256, artifact_bytes, report, data_schema_sha256)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
              [model.id, input.source, input.upload.sha256, ...values],
            );
        await audit(tx, {
          actor: input.actor,
          action: accepted ? 'batch.accept' : 'batch.quarantine',
          model: input.model,
          outcome: accepted ? 'ok' : 'denied',
          details: {
            source: input.source,
            sha256: input.upload.sha256,
            format: parquet ? 'parquet' : 'csv',
            rows: result.rowCount,
            errors: result.errors.length + result.moreErrors,
            artifact: artifact.key,
            checkedAgainst: reference?.sha256,
            // Validated again under a changed data schema: what it was before, which stays in S3.
            ...(previous && { revalidated: { batchId: Number(previous.id), status: previous.status, artifact: previous.artifact_key } }),
          },
        });
        return Number(row.rows[0].id);
      });
      const outcome = accepted ? 'accepted' : 'quarantined';
      metrics.batches.inc({ model: input.model, status: outcome });
      metrics.batchRows.inc({ model: input.model, status: outcome }, result.rowCount);
      return {
        batchId,
        status: outcome,
        duplicate: false,
        rows: result.rowCount,
        artifact,
        errors: result.errors.slice(0, 20),
        moreErrors: result.moreErrors + Math.max(0, result.errors.length - 20),
        notes: result.notes,
      };
    },

    /**
     * Freezes every accepted batch into one immutable Parquet snapshot,
     * addressed by its sha256: the same accepted batches always give the same
     * bytes (data/parquet.ts), and a later batch's row replaces an earlier one
     * with the same id (a corrected record); without an id column that is a
     * row of the same content, so it is kept once. Its per-column statistics
     * are kept for checking the batches that come after it.
     */
    async createSnapshot(input: { model: string }): Promise<SnapshotRef> {
      const model = await findModel(db, input.model);
      const { spec } = model;
      const batches = await db.query<BatchRecord>(
        "SELECT id, source, status, data_schema_sha256, row_count, artifact_key, artifact_sha256, artifact_bytes, report FROM data_batches WHERE model_id = $1 AND status = 'accepted' ORDER BY id",
        [model.id],
      );
      if (batches.rowCount === 0) {
        throw ApplicationFailure.nonRetryable(`model "${input.model}" has no accepted data batches: ingest data first (factory ingest ${input.model} <file.csv or file.parquet>)`, 'NoData');
      }
      const { rows, stats, split, positives, artifact } = await inScratch(workDir, `snapshot-${input.model}-`, async (dir) => {
        const files: string[] = [];
        const header = csvLine(snapshotColumns(spec).map((c) => c.name));
        for (const b of batches.rows) {
          files.push(path.join(dir, `batch-${b.id}.csv`));
          const stored = (await store.get(refOf(b))).toString('utf8');
          fs.writeFileSync(files[files.length - 1], stored.startsWith(`${header}\n`) ? stored : underCurrentSpec(spec, b, stored));
          Context.current().heartbeat({ batch: b.id });
        }
        const out = path.join(dir, 'snapshot.parquet');
        const label = labelColumn(spec);
        const key = rowKeyColumn(spec);
        const { rows } = await buildParquetSnapshot({ batchCsvPaths: files, columns: snapshotColumns(spec), outPath: out, orderBy: key });
        const stats = await columnStats(out, snapshotColumns(spec).filter((c) => c.name !== key));
        const { text, columns } = await readParquetColumns(out, [label], [key, ...(spec.timeColumn === undefined ? [] : [spec.timeColumn])]);
        const split = { train: 0, validation: 0, test: 0 };
        const times = spec.timeColumn === undefined ? undefined : text[spec.timeColumn].map((t) => Date.parse(t!));
        for (const name of splitsOf(text[key] as string[], spec.split, times)) split[name]++;
        const positives = spec.task === 'binary-classification' ? columns[label].reduce((n, y) => n + y, 0) : null;
        const artifact = await store.put('snapshots', fs.readFileSync(out), '.parquet', PARQUET_TYPE);
        return { rows, stats, split, positives, artifact };
      });
      const res = await db.query<{ id: string }>(
        `INSERT INTO dataset_snapshots (model_id, artifact_key, artifact_sha256, artifact_bytes, row_count, positives, batch_ids, split, stats)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (model_id, artifact_sha256) DO UPDATE SET artifact_key = EXCLUDED.artifact_key, stats = EXCLUDED.stats
         RETURNING id`,
        [model.id, artifact.key, artifact.sha256, artifact.bytes, rows, positives, batches.rows.map((b) => Number(b.id)), JSON.stringify({ ...spec.split, ...split }), JSON.stringify(stats)],
      );
      return { snapshotId: Number(res.rows[0].id), artifact, rows, positives, split };
    },
  };
}

export type DataActivities = ReturnType<typeof createDataActivities>;
