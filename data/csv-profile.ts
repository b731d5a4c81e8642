/** What `factory init` learns of a CSV file (data/profile.ts measures it, specs/draft-spec.ts writes a spec from it). Pure. */

/** One column, by DuckDB's type sniffing and one scan. */
export interface ColumnProfile {
  name: string;
  /** DuckDB's sniffed type: BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP, BOOLEAN, … */
  type: string;
  rows: number;
  missing: number;
  distinct: number;
  min: string | null;
  max: string | null;
  /** Up to MAX_VALUES values, commonest first, with their counts; all of them when distinct ≤ MAX_VALUES. */
  values: { value: string; rows: number }[];
  /** Whether every present value, as the file writes it, is a date or ISO timestamp. */
  isoTimes: boolean;
}

export interface CsvProfile {
  delimiter: string;
  rows: number;
  columns: ColumnProfile[];
}

/** Columns that give a numeric label away: two whose sum is the label on every row (casual + registered = cnt), or one all but equal to it. */
export interface LabelLeaks {
  sums: [string, string][];
  /** Correlated with the label at |r| ≥ LEAK_CORRELATION. */
  correlated: { column: string; r: number }[];
}

export const LEAK_CORRELATION = 0.995;

export const MAX_VALUES = 100;
const NUMERIC = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'FLOAT', 'DOUBLE']);
export const isNumericType = (type: string) => NUMERIC.has(type) || type.startsWith('DECIMAL');
