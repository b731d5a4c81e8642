import { readParquetColumns } from '../data/parquet';
import { labelColumn, rowKeyColumn, type ModelSpec } from '../specs/model-spec';
import type { Dataset } from './dataset';

/** A Parquet snapshot (data/parquet.ts) as one dataset in the file's order (by row key); a missing value stays NaN. */
export async function readSnapshot(file: string, spec: ModelSpec): Promise<Dataset> {
  const names = spec.features.map((f) => f.name);
  const label = labelColumn(spec);
  const read = await readParquetColumns(file, [...names, label], rowKeyColumn(spec));
  const features = names.length;
  const x = new Float64Array(read.rows * features);
  names.forEach((name, j) => {
    const column = read.columns[name];
    for (let i = 0; i < read.rows; i++) x[i * features + j] = column[i];
  });
  return { ids: read.ids, x, y: Uint8Array.from(read.columns[label]), rows: read.rows, features };
}
