import { parse } from 'csv-parse/sync';

/**
 * The project's one CSV reader and writer. Ids and column names are free text,
 * so splitting on commas by hand breaks on the first one holding a comma, a
 * quote or a line break; everything written here is RFC 4180 (lines end in
 * "\n"), which this reader, DuckDB's read_csv and a trainer's CSV library all
 * read back to the same cells.
 */

/** A number cell is written as JavaScript prints it; NaN is an empty cell, the project's missing value. */
export type CsvCell = string | number;

export interface CsvRecord {
  cells: string[];
  /** The 1-based line the record ends on: a quoted line break makes one record span lines. */
  line: number;
}

/** Text that is not CSV (an unclosed quote, a quote inside an unquoted field). */
export class CsvError extends Error {
  constructor(
    message: string,
    /** The line where reading stopped, or 0 when unknown. */
    readonly line: number,
  ) {
    super(message);
  }
}

/**
 * The delimiter of a file a person sends: a semicolon where the header has
 * more of them than commas (as spreadsheets in many locales write CSV, and as
 * UCI's wine files come), else a comma. Quoted header cells do not count.
 */
export function detectDelimiter(text: string): ',' | ';' {
  const end = text.indexOf('\n');
  const header = (end < 0 ? text : text.slice(0, end)).replace(/"[^"]*"/g, '');
  const count = (c: string) => header.split(c).length - 1;
  return count(';') > count(',') ? ';' : ',';
}

/**
 * Every non-empty record, after a byte-order mark. Records may differ in length:
 * the caller compares them with its header, so it can say which line is short.
 * `trim` drops the whitespace around fields (outside quotes).
 */
export function readCsv(text: string, options: { trim?: boolean; delimiter?: string } = {}): CsvRecord[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // The typings do not model `info: true`, which wraps each record with its line number.
    records = parse(text, { info: true, skip_empty_lines: true, relax_column_count: true, bom: true, trim: options.trim ?? false, delimiter: options.delimiter ?? ',' }) as unknown as typeof records;
  } catch (err) {
    const e = err as { lines?: number; message: string };
    throw new CsvError(e.message, e.lines ?? 0);
  }
  return records.map(({ record, info }) => ({ cells: record, line: info.lines }));
}

function field(cell: CsvCell): string {
  if (typeof cell === 'number') return Number.isNaN(cell) ? '' : String(cell);
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** One record as a line, without its line end. */
export function csvLine(cells: readonly CsvCell[]): string {
  const line = cells.map(field).join(',');
  // A lone empty field would be a blank line, which readers skip: quoted, it stays a record.
  return line === '' && cells.length === 1 ? '""' : line;
}

/** Records as CSV text, each line ended by "\n". */
export function writeCsv(records: readonly (readonly CsvCell[])[]): string {
  return records.map((r) => `${csvLine(r)}\n`).join('');
}
