import { readParquetColumns } from '../data/parquet';
import type { BatchRow } from '../specs/data-batch';
import { encodeValue, isStringCategory } from '../specs/feature-encoding';
import { rowKeyColumn, type ModelSpec } from '../specs/model-spec';
import { labelColumn } from '../specs/label';
import type { Dataset } from './dataset';

/**
 * A Parquet snapshot (data/parquet.ts) as one dataset in the file's order (by
 * row key): string categories encoded by the spec (specs/feature-encoding.ts),
 * a missing value NaN.
 */
export async function readSnapshot(file: string, spec: ModelSpec): Promise<Dataset> {
  const read = await readColumns(file, spec);
  const features = spec.features.length;
  const x = new Float64Array(read.rows * features);
  spec.features.forEach((f, j) => {
    if (isStringCategory(f)) {
      const column = read.text[f.name];
      for (let i = 0; i < read.rows; i++) x[i * features + j] = column[i] === null ? NaN : encodeValue(f, column[i]!);
    } else {
      const column = read.columns[f.name];
      for (let i = 0; i < read.rows; i++) x[i * features + j] = column[i];
    }
  });
  const time = spec.timeColumn === undefined ? undefined : Float64Array.from(read.text[spec.timeColumn], (t) => Date.parse(t!));
  return { ids: read.text[rowKeyColumn(spec)] as string[], x, y: read.columns[labelColumn(spec)], rows: read.rows, features, ...(time ? { time } : {}) };
}

/** A snapshot's rows with their values as the data held them (strings for string categories), for a trainer that reads files. */
export async function readSnapshotRows(file: string, spec: ModelSpec): Promise<BatchRow[]> {
  const read = await readColumns(file, spec);
  const ids = read.text[rowKeyColumn(spec)] as string[];
  const label = read.columns[labelColumn(spec)];
  const time = spec.timeColumn === undefined ? undefined : read.text[spec.timeColumn];
  return ids.map((id, i) => ({
    id,
    ...(time ? { time: Date.parse(time[i]!) } : {}),
    label: label[i],
    features: spec.features.map((f) => (isStringCategory(f) ? (read.text[f.name][i] ?? NaN) : read.columns[f.name][i])),
  }));
}

function readColumns(file: string, spec: ModelSpec) {
  const numeric = spec.features.filter((f) => !isStringCategory(f)).map((f) => f.name);
  const strings = spec.features.filter(isStringCategory).map((f) => f.name);
  return readParquetColumns(file, [...numeric, labelColumn(spec)], [rowKeyColumn(spec), ...(spec.timeColumn === undefined ? [] : [spec.timeColumn]), ...strings]);
}
