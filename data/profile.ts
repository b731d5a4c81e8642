import { VARCHAR } from '@duckdb/node-api';
import type { ColumnProfile, CsvProfile, LabelLeaks } from './csv-profile';
import { LEAK_CORRELATION, MAX_VALUES } from './csv-profile';
import { ident, withDuckDB } from './duckdb';

const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$';

/**
 * Profiles a CSV file (comma or semicolon, quoted, with a header) with
 * DuckDB: each column's sniffed type, missing and distinct counts, range and
 * commonest values.
 */
export async function profileCsv(file: string): Promise<CsvProfile> {
  return withDuckDB(async (db) => {
    const sniff = await db.runAndReadAll('SELECT Delimiter FROM sniff_csv($file)', { file }, { file: VARCHAR });
    const delimiter = String(sniff.getRowsJS()[0][0]);
    await db.run('CREATE TABLE typed AS SELECT * FROM read_csv($file, header = true)', { file }, { file: VARCHAR });
    await db.run('CREATE TABLE raw AS SELECT * FROM read_csv($file, header = true, all_varchar = true)', { file }, { file: VARCHAR });
    const described = (await db.runAndReadAll('DESCRIBE typed')).getRowsJS().map((r) => ({ name: String(r[0]), type: String(r[1]) }));
    const rows = Number((await db.runAndReadAll('SELECT count(*) FROM typed')).getRowsJS()[0][0]);
    const columns: ColumnProfile[] = [];
    for (const { name, type } of described) {
      const c = ident(name);
      const [stats] = (
        await db.runAndReadAll(
          `SELECT count(${c}), count(DISTINCT ${c}), CAST(min(${c}) AS VARCHAR), CAST(max(${c}) AS VARCHAR),
                  (SELECT bool_and(regexp_full_match(trim(${c}), '${ISO_TIME}')) FROM raw WHERE ${c} IS NOT NULL AND trim(${c}) <> '')
           FROM typed`,
        )
      ).getRowsJS();
      // Values as the file writes them (trimmed, as the batch validator reads a cell), not as DuckDB would print its typed value.
      const values = (await db.runAndReadAll(`SELECT trim(${c}), count(*) FROM raw WHERE ${c} IS NOT NULL AND trim(${c}) <> '' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${MAX_VALUES + 1}`))
        .getRowsJS()
        .map((r) => ({ value: String(r[0]), rows: Number(r[1]) }));
      columns.push({
        name,
        type,
        rows,
        missing: rows - Number(stats[0]),
        distinct: Number(stats[1]),
        min: stats[2] === null ? null : String(stats[2]),
        max: stats[3] === null ? null : String(stats[3]),
        values: values.slice(0, MAX_VALUES),
        isoTimes: stats[4] === true,
      });
    }
    return { delimiter, rows, columns };
  });
}

/** The numeric columns that leak a numeric label (labelLeaks' two relations), in one scan. */
export async function labelLeaks(file: string, label: string, numeric: string[]): Promise<LabelLeaks> {
  const others = numeric.filter((n) => n !== label);
  if (others.length === 0) return { sums: [], correlated: [] };
  return withDuckDB(async (db) => {
    await db.run('CREATE TABLE t AS SELECT * FROM read_csv($file, header = true)', { file }, { file: VARCHAR });
    const y = ident(label);
    const pairs = others.flatMap((a, i) => others.slice(i + 1).map((b) => [a, b] as [string, string]));
    // A bookkeeping identity holds on every row: a row where a part is missing does not hold it.
    const sum = ([a, b]: [string, string]) => `coalesce(bool_and(coalesce(abs(${ident(a)} + ${ident(b)} - ${y}) <= 1e-9 * (1 + abs(${y})), false)), false)`;
    const select = [...others.map((c) => `corr(${ident(c)}, ${y})`), ...pairs.map(sum)].join(', ');
    const row = (await db.runAndReadAll(`SELECT ${select} FROM t WHERE ${y} IS NOT NULL`)).getRowsJS()[0];
    const correlated = others.flatMap((column, i) => (Math.abs(Number(row[i])) >= LEAK_CORRELATION ? [{ column, r: Number(row[i]) }] : []));
    const sums = pairs.filter((_, i) => row[others.length + i] === true);
    return { sums, correlated };
  });
}
