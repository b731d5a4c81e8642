import fs from 'node:fs';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { ident, literal, withDuckDB } from './duckdb';
import { NUMBER } from '../specs/data-batch';
import { isStringCategory } from '../specs/feature-encoding';
import { rowKeyColumn, type ModelSpec } from '../specs/model-spec';
import { labelColumn } from '../specs/label';
import { csvLine } from './csv';

/**
 * Dataset snapshots: the canonical CSV batches of a model (specs/data-batch.ts),
 * merged into one Parquet file by an in-memory DuckDB. Also reads uploaded
 * Parquet batches into CSV, so they go through the same validation as CSV ones.
 *
 * File paths are always bound as query parameters ($name), never spliced into
 * the SQL, so a path with a quote (or anything else) is data, not SQL. Column
 * names cannot be bound and are quoted as identifiers instead: the model's own
 * names include dots (default.payment.next.month).
 */

export type ColumnType = 'DOUBLE' | 'BIGINT' | 'VARCHAR';

export interface SnapshotColumn {
  name: string;
  type: ColumnType;
}

/**
 * The columns of a model's canonical CSV, in its order: the row key (ID or
 * content hash), the time (ISO, UTC) and string categories as text, integer
 * features, integer categories and a class label (0 or 1, or a class's place)
 * as BIGINT (so "1.5" in an integer column is refused rather than rounded),
 * other features and a regression label as DOUBLE.
 */
export function snapshotColumns(spec: ModelSpec): SnapshotColumn[] {
  return [
    { name: rowKeyColumn(spec), type: 'VARCHAR' },
    ...(spec.timeColumn === undefined ? [] : [{ name: spec.timeColumn, type: 'VARCHAR' as const }]),
    ...spec.features.map((f): SnapshotColumn => ({ name: f.name, type: isStringCategory(f) ? 'VARCHAR' : f.type === 'number' ? 'DOUBLE' : 'BIGINT' })),
    { name: labelColumn(spec), type: spec.task === 'regression' ? 'DOUBLE' : 'BIGINT' },
  ];
}

/**
 * The same rows give the same bytes: the sort is on a unique key, row groups are
 * cut at a fixed size (not left to a default that may change) and the engine
 * runs on one thread. DuckDB 1.5 writes no timestamp into the file; measured,
 * 16 threads gave the same bytes too, but one thread is what is relied on. The
 * footer does name the DuckDB version, so an upgrade of @duckdb/node-api changes
 * the bytes (not the data) of a rebuilt snapshot.
 */
const ROW_GROUP_SIZE = 122_880;

/**
 * Types are given, never sniffed, so a batch cannot change a column's type.
 * Cells are read as text and must match the batch validator's number rules
 * (specs/data-batch.ts) before the cast: DuckDB's own casts are lenient
 * ("0.5" becomes BIGINT 1; "inf", "1_000" and " 2 " pass as DOUBLE). Any cell
 * that does not match fails the whole build; an empty cell is NULL.
 */
const PATTERNS: Record<ColumnType, RegExp | null> = {
  DOUBLE: NUMBER,
  BIGINT: /^[-+]?\d+$/,
  VARCHAR: null,
};

/** The batch file of each row, named in a refused cell's error; not written to the snapshot. */
const FILE_COLUMN = '__batch_file';

function typed(c: SnapshotColumn): string {
  const col = ident(c.name);
  const pattern = PATTERNS[c.type];
  if (!pattern) return col;
  const refusal = `concat(${ident(FILE_COLUMN)}, ${literal(`: column ${c.name} holds "`)}, ${col}, ${literal(`", not a ${c.type}`)})`;
  return `CASE WHEN ${col} IS NULL OR regexp_full_match(${col}, ${literal(pattern.source)}) THEN CAST(${col} AS ${c.type}) ELSE error(${refusal}) END AS ${col}`;
}

/**
 * Merges batches into one snapshot. `batchCsvPaths` are in ingestion order: a
 * later batch's row replaces an earlier one with the same key (a corrected
 * record), which row_number over the file's place in the list picks out. A key
 * twice in one batch has no such order and fails the build; the batch
 * validator never lets one through.
 */
export async function buildParquetSnapshot(input: {
  batchCsvPaths: string[];
  columns: SnapshotColumn[];
  outPath: string;
  /** The row key (normally the ID column), unique in the snapshot; rows are written in its order. */
  orderBy: string;
}): Promise<{ rows: number; bytes: number }> {
  const { batchCsvPaths, columns, outPath, orderBy } = input;
  if (batchCsvPaths.length === 0) throw new Error('a snapshot needs at least one batch');
  if (!columns.some((c) => c.name === orderBy)) throw new Error(`order key "${orderBy}" is not a snapshot column`);
  // read_csv maps columns by position and ignores the header's names, so a file
  // with its columns in another order would load without complaint.
  const header = csvLine(columns.map((c) => c.name));
  for (const file of batchCsvPaths) {
    const found = firstLine(file);
    if (found !== header) throw new Error(`${file}: header is "${found}", expected "${header}"`);
  }
  const cells = columns.map((c) => `${literal(c.name)}: 'VARCHAR'`).join(', ');
  const key = ident(orderBy);
  const file = ident(FILE_COLUMN);
  const twice = `concat(${file}, ${literal(`: ${orderBy} "`)}, ${key}, '" appears more than once')`;
  const sql = `COPY (
      SELECT ${columns.map(typed).join(', ')}
      FROM read_csv($files, header = true, auto_detect = false, delim = ',', quote = '"', filename = ${literal(FILE_COLUMN)}, columns = {${cells}})
      QUALIFY CASE WHEN count(*) OVER (PARTITION BY ${key}, ${file}) > 1 THEN error(${twice})
                   ELSE row_number() OVER (PARTITION BY ${key} ORDER BY list_position($files, ${file}) DESC) END = 1
      ORDER BY ${key}
    ) TO $out (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_SIZE})`;
  const rows = await withDuckDB(async (db) => {
    const result = await db.runAndReadAll(sql, { files: listValue(batchCsvPaths), out: outPath }, { files: LIST(VARCHAR), out: VARCHAR });
    return Number(result.getRowsJS()[0][0]);
  });
  return { rows, bytes: fs.statSync(outPath).size };
}

/**
 * Numeric columns of a snapshot, in the file's row order, as Float64Arrays
 * (NULL as NaN), and text columns (the row key, string categories) as strings
 * (NULL as null) in the same scan. Numbers are copied straight out of DuckDB's
 * vectors chunk by chunk: no JavaScript object is made per row.
 */
export async function readParquetColumns(
  path: string,
  columns: string[],
  textColumns: string[] = [],
): Promise<{ rows: number; columns: Record<string, Float64Array>; text: Record<string, (string | null)[]> }> {
  return withDuckDB(async (db) => {
    const count = await db.runAndReadAll('SELECT count(*) FROM read_parquet($path)', { path }, { path: VARCHAR });
    const rows = Number(count.getRowsJS()[0][0]);
    const out = columns.map(() => new Float64Array(rows));
    const text = textColumns.map((): (string | null)[] => []);
    const select = [...columns.map((c) => `CAST(${ident(c)} AS DOUBLE)`), ...textColumns.map((c) => `CAST(${ident(c)} AS VARCHAR)`)].join(', ');
    const result = await db.stream(`SELECT ${select} FROM read_parquet($path)`, { path }, { path: VARCHAR });
    let offset = 0;
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      for (let j = 0; j < columns.length; j++) {
        const vector = chunk.getColumnVector(j);
        const target = out[j];
        for (let i = 0; i < chunk.rowCount; i++) target[offset + i] = (vector.getItem(i) as number | null) ?? NaN;
      }
      for (let j = 0; j < textColumns.length; j++) {
        const vector = chunk.getColumnVector(columns.length + j);
        const target = text[j];
        for (let i = 0; i < chunk.rowCount; i++) target.push(vector.getItem(i) as string | null);
      }
      offset += chunk.rowCount;
    }
    if (offset !== rows) throw new Error(`${path}: read ${offset} rows, the file declares ${rows}`);
    return { rows, columns: Object.fromEntries(columns.map((c, j) => [c, out[j]])), text: Object.fromEntries(textColumns.map((c, j) => [c, text[j]])) };
  });
}

/**
 * An uploaded Parquet batch as CSV text, for the same validation as a CSV
 * batch: every column, in the file's order and row order, printed by DuckDB
 * (NULL as an empty cell, numbers in their shortest exact form), so a text
 * column where a number is expected fails validation cell by cell, naming it.
 */
export async function parquetToCsv(parquetPath: string, csvPath: string): Promise<string> {
  await withDuckDB((db) =>
    db.run('COPY (SELECT * FROM read_parquet($path)) TO $out (FORMAT csv, HEADER true)', { path: parquetPath, out: csvPath }, { path: VARCHAR, out: VARCHAR }),
  );
  return fs.readFileSync(csvPath, 'utf8');
}

export interface ColumnStats {
  rows: number;
  /** Share of rows where the column is NULL. */
  missingRate: number;
  /** min, max, mean and std (population) over the present values; null when none is present. */
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
}

/**
 * Per-column statistics of a snapshot, in one scan, for checking new batches
 * against the training data. A text column (a string category) has counts
 * only: its min, max, mean and std are null.
 */
export async function columnStats(path: string, columns: SnapshotColumn[]): Promise<Record<string, ColumnStats>> {
  const aggregates = columns.flatMap((c) => {
    if (c.type === 'VARCHAR') return [`count(${ident(c.name)})`, 'NULL', 'NULL', 'NULL', 'NULL'];
    const v = `CAST(${ident(c.name)} AS DOUBLE)`;
    return [`count(${v})`, `min(${v})`, `max(${v})`, `avg(${v})`, `stddev_pop(${v})`];
  });
  const row = await withDuckDB(async (db) => {
    const result = await db.runAndReadAll(`SELECT count(*), ${aggregates.join(', ')} FROM read_parquet($path)`, { path }, { path: VARCHAR });
    return result.getRowsJS()[0];
  });
  const rows = Number(row[0]);
  const num = (v: unknown) => (v === null ? null : Number(v));
  return Object.fromEntries(
    columns.map((c, j) => {
      const [present, min, max, mean, std] = row.slice(1 + 5 * j, 6 + 5 * j);
      const missingRate = rows === 0 ? 0 : (rows - Number(present)) / rows;
      return [c.name, { rows, missingRate, min: num(min), max: num(max), mean: num(mean), std: num(std) }];
    }),
  );
}

/** A batch's header line; canonical batches keep it far below the 64 KiB read here. */
function firstLine(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const text = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    const end = text.indexOf('\n');
    return (end < 0 ? text : text.slice(0, end)).replace(/\r$/, '');
  } finally {
    fs.closeSync(fd);
  }
}
