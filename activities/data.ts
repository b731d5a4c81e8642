import { ApplicationFailure, Context } from '@temporalio/activity';
import { metrics } from '../config/metrics';
import { audit, findModel } from '../db/models';
import { inTransaction } from '../db/pool';
import { splitRows } from '../ml/split';
import { fromCanonicalCsv, toCanonicalCsv, validateBatch, type BatchRow } from '../specs/data-batch';
import type { ArtifactRef } from '../storage/artifacts';
import type { ActivityDeps } from './deps';
import type { IngestResult, SnapshotRef } from './types';

interface BatchRecord {
  id: string;
  status: 'accepted' | 'quarantined';
  row_count: number;
  artifact_key: string;
  artifact_sha256: string;
  artifact_bytes: string;
  report: { errors?: IngestResult['errors']; moreErrors?: number };
}

const toRef = (r: { artifact_key: string; artifact_sha256: string; artifact_bytes: string | number }): ArtifactRef => ({
  key: r.artifact_key,
  sha256: r.artifact_sha256,
  bytes: Number(r.artifact_bytes),
});

/** Data activities (cpu pool): batch validation with quarantine, and immutable snapshots. */
export function createDataActivities({ db, store }: ActivityDeps) {
  return {
    /**
     * Validates an uploaded batch against the model's schema. A valid batch is
     * stored in canonical form and accepted whole; an invalid one is kept
     * byte-for-byte in quarantine with its row-level report, and nothing of it
     * reaches a snapshot.
     */
    async ingestBatch(input: { model: string; source: string; upload: ArtifactRef; actor: string }): Promise<IngestResult> {
      const model = await findModel(db, input.model).catch((err) => {
        throw ApplicationFailure.nonRetryable(err.message, 'UnknownModel');
      });
      const existing = await db.query<BatchRecord>(
        'SELECT id, status, row_count, artifact_key, artifact_sha256, artifact_bytes, report FROM data_batches WHERE model_id = $1 AND source_sha256 = $2',
        [model.id, input.upload.sha256],
      );
      if (existing.rowCount) {
        const b = existing.rows[0];
        return {
          batchId: Number(b.id),
          status: b.status,
          duplicate: true,
          rows: b.row_count,
          artifact: toRef(b),
          errors: b.report.errors ?? [],
          moreErrors: b.report.moreErrors ?? 0,
        };
      }
      const bytes = await store.get(input.upload);
      Context.current().heartbeat({ stage: 'validating', bytes: bytes.byteLength });
      const result = validateBatch(model.spec, bytes.toString('utf8'));
      const accepted = result.errors.length === 0;
      const artifact = accepted
        ? await store.put('batches', toCanonicalCsv(model.spec, result.rows), '.csv', 'text/csv')
        : await store.put('quarantine', bytes, '.csv', 'text/csv');
      const report = accepted ? {} : { errors: result.errors, moreErrors: result.moreErrors };
      const batchId = await inTransaction(db, async (tx) => {
        const row = await tx.query<{ id: string }>(
          `INSERT INTO data_batches (model_id, source, source_sha256, status, row_count, artifact_key, artifact_sha256, artifact_bytes, report)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
          [model.id, input.source, input.upload.sha256, accepted ? 'accepted' : 'quarantined', result.rowCount, artifact.key, artifact.sha256, artifact.bytes, JSON.stringify(report)],
        );
        await audit(tx, {
          actor: input.actor,
          action: accepted ? 'batch.accept' : 'batch.quarantine',
          model: input.model,
          outcome: accepted ? 'ok' : 'denied',
          details: { source: input.source, sha256: input.upload.sha256, rows: result.rowCount, errors: result.errors.length + result.moreErrors, artifact: artifact.key },
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
      };
    },

    /**
     * Freezes every accepted batch into one immutable snapshot, addressed by the
     * hash of its canonical content; the same data always gives the same snapshot.
     */
    async createSnapshot(input: { model: string }): Promise<SnapshotRef> {
      const model = await findModel(db, input.model);
      const batches = await db.query<BatchRecord>(
        "SELECT id, status, row_count, artifact_key, artifact_sha256, artifact_bytes, report FROM data_batches WHERE model_id = $1 AND status = 'accepted' ORDER BY id",
        [model.id],
      );
      if (batches.rowCount === 0) {
        throw ApplicationFailure.nonRetryable(`model "${input.model}" has no accepted data batches: ingest data first (factory ingest ${input.model} <file.csv>)`, 'NoData');
      }
      // A later batch's row replaces an earlier one with the same id (a corrected record).
      const byId = new Map<string, BatchRow>();
      for (const b of batches.rows) {
        for (const row of fromCanonicalCsv(await store.getText(toRef(b)))) byId.set(row.id, row);
        Context.current().heartbeat({ batch: b.id });
      }
      const rows = [...byId.values()];
      const artifact = await store.put('snapshots', toCanonicalCsv(model.spec, rows), '.csv', 'text/csv');
      const parts = splitRows(rows, model.spec.split);
      const split = { train: parts.train.length, validation: parts.validation.length, test: parts.test.length };
      const positives = rows.reduce((n, r) => n + r.label, 0);
      const batchIds = batches.rows.map((b) => Number(b.id));
      const res = await db.query<{ id: string }>(
        `INSERT INTO dataset_snapshots (model_id, artifact_key, artifact_sha256, artifact_bytes, row_count, positives, batch_ids, split)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (model_id, artifact_sha256) DO UPDATE SET artifact_key = EXCLUDED.artifact_key
         RETURNING id`,
        [model.id, artifact.key, artifact.sha256, artifact.bytes, rows.length, positives, batchIds, JSON.stringify({ ...model.spec.split, ...split })],
      );
      return { snapshotId: Number(res.rows[0].id), artifact, rows: rows.length, positives, split };
    },
  };
}

export type DataActivities = ReturnType<typeof createDataActivities>;
