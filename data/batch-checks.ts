import type { BatchRow, RowError } from '../specs/data-batch';
import type { ModelSpec } from '../specs/model-spec';
import type { ColumnStats } from './parquet';

/** The snapshot a batch is compared with: its hash (named in the report) and its column statistics. */
export interface ReferenceStats {
  sha256: string;
  stats: Record<string, ColumnStats>;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * Column-level checks of an otherwise valid batch against the training data:
 * a column going missing far more often than in the snapshot (a broken feed or
 * a renamed source field), and optionally values leaving the range seen in
 * training (a unit change). Each fault names the column with both figures and
 * the setting that was exceeded. Columns the snapshot has no statistics for
 * (added to the spec since) are not checked; a string category has no range.
 */
export function checkAgainstSnapshot(spec: ModelSpec, rows: BatchRow[], reference: ReferenceStats): RowError[] {
  const { maxMissingRateIncrease, maxOutOfRangeShare } = spec.validation;
  const snapshot = reference.sha256.slice(0, 12);
  const faults: RowError[] = [];
  spec.features.forEach((f, j) => {
    const ref = reference.stats[f.name];
    if (!ref || rows.length === 0) return;
    let missing = 0;
    let outside = 0;
    for (const r of rows) {
      const v = r.features[j];
      if (typeof v === 'string') continue;
      if (Number.isNaN(v)) missing++;
      else if (ref.min !== null && ref.max !== null && (v < ref.min || v > ref.max)) outside++;
    }
    const rate = missing / rows.length;
    if (rate - ref.missingRate > maxMissingRateIncrease) {
      faults.push({
        column: f.name,
        message: `missing in ${pct(rate)} of rows (${missing} of ${rows.length}) against ${pct(ref.missingRate)} in training snapshot ${snapshot}: a rise of more than ${pct(maxMissingRateIncrease)} (validation.maxMissingRateIncrease)`,
      });
    }
    const present = rows.length - missing;
    if (maxOutOfRangeShare !== undefined && present > 0 && outside / present > maxOutOfRangeShare) {
      faults.push({
        column: f.name,
        message: `${pct(outside / present)} of its values (${outside} of ${present}) lie outside [${ref.min}, ${ref.max}], the range in training snapshot ${snapshot}: more than ${pct(maxOutOfRangeShare)} (validation.maxOutOfRangeShare)`,
      });
    }
  });
  return faults;
}
