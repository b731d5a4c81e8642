import crypto from 'node:crypto';
import { z } from 'zod';
import { CsvError, csvLine, detectDelimiter, readCsv, writeCsv } from '../data/csv';
import { isListed, isStringCategory, type FeatureValue } from './feature-encoding';
import { rowKeyColumn, type FeatureSpec, type ModelSpec } from './model-spec';
import { labelClasses, labelColumn, regressionObjective } from './label';

/** A number as batches, snapshots and price curves write it: no "inf", "0x10", "1_000" or padding. */
export const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const numeric = z
  .string()
  .trim()
  .refine((s) => s.length > 0, 'is empty')
  .refine((s) => s.length === 0 || NUMBER.test(s), 'is not a number')
  .transform(Number);

/**
 * Text a spreadsheet would run as a formula when the stored data is opened
 * (=, @, or + and - before anything but a number): CSV injection. A string
 * category's listed values are the spec's choice; anything else of this kind
 * in a text cell is refused.
 */
const FORMULA = /^\s*([=@]|[+-](?![\d.]|$))/;
const FORMULA_MESSAGE = 'looks like a spreadsheet formula (it starts with =, @, + or -): refused, as it would run when the data is opened in a spreadsheet';

/** A line longer than this is no row of a table (a runaway field or a binary file), and fails the batch before it is parsed. */
export const MAX_LINE_CHARS = 65_536;

/**
 * A batch's bytes as text: UTF-8 (a byte-order mark allowed), or the place
 * where they stop being it. Decoding leniently would turn each bad byte into
 * U+FFFD and store data nobody sent.
 */
export function batchText(bytes: Uint8Array): { text: string } | { error: RowError } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    // Where: the first offset whose prefix does not decode, and its line.
    let lo = 0;
    let hi = bytes.length;
    while (hi - lo > 4) {
      const mid = (lo + hi) >> 1;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
        lo = mid;
      } catch {
        hi = mid;
      }
    }
    let line = 1;
    for (let i = 0; i < lo; i++) if (bytes[i] === 0x0a) line++;
    return { error: { line, column: '*', message: `not UTF-8 text: byte ${lo}–${hi} (line ${line}) is not valid UTF-8; save the file as UTF-8 (CSV UTF-8 in a spreadsheet)` } };
  }
}

const listing = (f: FeatureSpec) => {
  const shown = f.values!.slice(0, 12).map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
  return `${shown.join(', ')}${f.values!.length > 12 ? `, … (${f.values!.length} values)` : ''}`;
};

/** Why a value is not one its feature allows. */
export interface ValueError {
  error: string;
}

const NOT_A_STRING: ValueError = { error: 'must be a string' };
const EMPTY: ValueError = { error: 'is empty' };
const FORMULA_ERROR: ValueError = { error: FORMULA_MESSAGE };
const NOT_A_NUMBER: ValueError = { error: 'must be a number' };
const NOT_AN_INTEGER: ValueError = { error: 'must be an integer' };

/**
 * One feature's value as the model spec allows it — the same rules for a CSV
 * cell and a JSON prediction request: the value (a string category's
 * trimmed), or why it is refused. A plain function made once per feature, as
 * a prediction request checks every value of every row and a schema object
 * per row would cost more than scoring it.
 */
export function featureValueReader(f: FeatureSpec): (v: unknown) => FeatureValue | ValueError {
  const unlisted: ValueError = { error: `must be one of ${f.values ? listing(f) : ''}` };
  if (isStringCategory(f)) {
    const other = f.unknown === 'other';
    return (v) => {
      if (typeof v !== 'string') return NOT_A_STRING;
      const s = v.trim();
      if (s.length === 0) return EMPTY;
      if (isListed(f, s)) return s;
      if (!other) return unlisted;
      return FORMULA.test(s) ? FORMULA_ERROR : s;
    };
  }
  const integer = f.type !== 'number';
  const { min, max } = f;
  const below: ValueError = { error: `must be at least ${min}` };
  const above: ValueError = { error: `must be at most ${max}` };
  const listed = f.values !== undefined && f.unknown !== 'other';
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return NOT_A_NUMBER;
    if (integer && !Number.isSafeInteger(v)) return NOT_AN_INTEGER;
    if (min !== undefined && v < min) return below;
    if (max !== undefined && v > max) return above;
    if (listed && !isListed(f, v)) return unlisted;
    return v;
  };
}

/** featureValueReader as a schema, for a value inside a larger one. */
export function featureValueSchema(f: FeatureSpec): z.ZodType<FeatureValue, unknown> {
  const read = featureValueReader(f);
  return z.unknown().transform((v, ctx) => {
    const r = read(v);
    if (typeof r !== 'object') return r;
    ctx.addIssue({ code: 'custom', message: r.error });
    return z.NEVER;
  });
}

/** A feature cell; where the spec allows missing values, an empty one is NaN (the trainers' missing value). */
function featureSchema(f: FeatureSpec, missing: boolean): z.ZodType<FeatureValue, string> {
  const present = isStringCategory(f) ? featureValueSchema(f) : numeric.pipe(featureValueSchema(f) as z.ZodType<FeatureValue, number>);
  return z.string().transform((cell, ctx) => {
    if (missing && cell.trim() === '') return NaN;
    const parsed = present.safeParse(cell);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
    return z.NEVER;
  });
}

/** Whether a label cell holds a value (the positive one, or a class): a number matches an equal number, a string the trimmed cell. */
function matches(value: string | number, cell: string): boolean {
  const c = cell.trim();
  return typeof value === 'number' ? NUMBER.test(c) && Number(c) === value : c === value;
}

/**
 * A label cell as the number the model learns: binary 0 or 1 (a column of 0s
 * and 1s as it is, a named positive value as 1 and any other value as 0),
 * multiclass the class's place in label.classes, regression the value
 * (at least 0 for a Poisson objective).
 */
function labelCellSchema(spec: Pick<ModelSpec, 'task' | 'label'>): z.ZodType<number, string> {
  const { label } = spec;
  if (spec.task === 'regression') {
    return regressionObjective(spec) === 'poisson' ? numeric.pipe(z.number().min(0, 'must be at least 0: a Poisson objective models counts (label.objective)')) : numeric;
  }
  const classes = labelClasses(spec);
  if (classes) {
    const listed = `must be one of the classes ${classes.slice(0, 12).map((c) => JSON.stringify(c)).join(', ')}${classes.length > 12 ? ', …' : ''} (label.classes)`;
    return z
      .string()
      .refine((cell) => cell.trim().length > 0, 'is empty')
      .transform((cell, ctx) => {
        const k = classes.findIndex((c) => matches(c, cell));
        if (k >= 0) return k;
        ctx.addIssue({ code: 'custom', message: listed });
        return z.NEVER;
      });
  }
  if (typeof label === 'string' || label.positive === undefined) return numeric.pipe(z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }));
  const positive = label.positive;
  return z
    .string()
    .refine((cell) => cell.trim().length > 0, 'is empty')
    .transform((cell) => (matches(positive, cell) ? 1 : 0));
}

/** A date (2012-10-01) or an ISO 8601 timestamp, with a "T" or a space, seconds and fraction optional, UTC unless it says Z or ±hh:mm. */
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A time cell (or a request's time value) as milliseconds since 1970 (UTC). */
export const timeCellSchema = z
  .string()
  .trim()
  .refine((s) => s.length > 0, 'is empty')
  .transform((cell, ctx) => {
    const m = TIME.exec(cell);
    const iso = m && (m[4] === undefined ? `${cell}T00:00:00Z` : `${cell.replace(' ', 'T')}${m[7] ? '' : 'Z'}`);
    const ms = iso ? Date.parse(iso) : NaN;
    // Date.parse rolls 2012-02-30 over to March: a date that does not exist is refused, not moved.
    if (m && !Number.isNaN(ms) && new Date(ms + (m[7] && m[7] !== 'Z' ? offsetMs(m[7]) : 0)).toISOString().slice(0, 10) === `${m[1]}-${m[2]}-${m[3]}`) return ms;
    ctx.addIssue({ code: 'custom', message: 'is not a date (2012-10-01) or an ISO timestamp (2012-10-01T13:00:00Z)' });
    return z.NEVER;
  });

function offsetMs(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
}

/** The zod schema of one CSV row of this model: column name → parsed value. */
function rowSchema(spec: ModelSpec) {
  const shape: Record<string, z.ZodType<unknown, string>> = { [labelColumn(spec)]: labelCellSchema(spec) };
  if (spec.idColumn !== undefined) shape[spec.idColumn] = z.string().trim().min(1, 'is empty').refine((v) => !FORMULA.test(v), FORMULA_MESSAGE);
  if (spec.timeColumn !== undefined) shape[spec.timeColumn] = timeCellSchema;
  for (const f of spec.features) shape[f.name] = featureSchema(f, spec.validation.missingValues === 'allow');
  return z.object(shape);
}

/**
 * The id of a row of a model without an id column: "h:" and the first 16 hex
 * digits of the sha256 of the UTF-8 bytes of the row's canonical CSV line
 * without its id cell and line end, that is the features in the spec's order
 * and then the label as 0 or 1, as toCanonicalCsv writes them (numbers as
 * JavaScript prints them, a missing value as an empty cell). So it depends on
 * the values alone, not on the file's column order, its number spelling ("1.50"
 * is 1.5) or how the label was written; the prefix keeps it apart from any id
 * an id column holds.
 */
export function contentId(features: FeatureValue[], label: number): string {
  return `h:${crypto.createHash('sha256').update(csvLine([...features, label]), 'utf8').digest('hex').slice(0, 16)}`;
}

export const batchRowSchema = z.object({
  id: z.string(),
  /** As the model learns it (labelCellSchema): 0 or 1, a class's place in label.classes, or a regression value. */
  label: z.number(),
  /** When the row happened (ms since 1970, UTC), for a model with a time column. */
  time: z.number().optional(),
  /** As the data holds them: numbers, and strings for string categories; NaN where a value is missing (validation.missingValues: allow). */
  features: z.array(z.union([z.number(), z.nan(), z.string()])),
});
export type BatchRow = z.infer<typeof batchRowSchema>;

/** One fault of a batch; with neither line nor row it is a fault of the whole column. */
export const rowErrorSchema = z.object({
  /** 1-based line in a CSV file, the header being line 1. */
  line: z.number().int().optional(),
  /** 1-based data row in a Parquet file. */
  row: z.number().int().optional(),
  column: z.string(),
  value: z.string().optional(),
  message: z.string(),
});
export type RowError = z.infer<typeof rowErrorSchema>;

export interface BatchValidation {
  rows: BatchRow[];
  errors: RowError[];
  /** What was noticed but is no fault, such as header columns the spec does not use. */
  notes: RowError[];
  /** Errors beyond those listed (the report keeps the first MAX_LISTED_ERRORS). */
  moreErrors: number;
  rowCount: number;
}

export const MAX_LISTED_ERRORS = 200;

/**
 * Validates a whole CSV batch (comma- or semicolon-separated: detectDelimiter)
 * against the model's schema. It never returns a partial result as good: any
 * error makes the whole batch invalid. The same id twice is an error naming
 * both lines; without an id column, identical rows are separate observations,
 * kept and noted. A row that repeats one of an earlier batch is the same row
 * again, and the snapshot keeps it once.
 */
export function validateBatch(spec: ModelSpec, csv: string): BatchValidation {
  const errors: RowError[] = [];
  const notes: RowError[] = [];
  let moreErrors = 0;
  const fail = (e: RowError) => (errors.length < MAX_LISTED_ERRORS ? errors.push(e) : moreErrors++);

  let lineStart = 0;
  for (let line = 1; lineStart < csv.length; line++) {
    const end = csv.indexOf('\n', lineStart);
    const length = (end < 0 ? csv.length : end) - lineStart;
    if (length > MAX_LINE_CHARS) {
      fail({ line, column: '*', message: `line ${line} is ${length} characters long, more than ${MAX_LINE_CHARS}: no row of a table is; is this the right file?` });
      return { rows: [], errors, notes, moreErrors, rowCount: 0 };
    }
    if (end < 0) break;
    lineStart = end + 1;
  }
  let records: string[][];
  try {
    records = readCsv(csv, { delimiter: detectDelimiter(csv) }).map((r) => r.cells);
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    fail({ line: err.line, column: '*', message: `not valid CSV: ${err.message}` });
    return { rows: [], errors, notes, moreErrors, rowCount: 0 };
  }
  if (records.length === 0) {
    fail({ line: 1, column: '*', message: 'the file is empty: a header row is required' });
    return { rows: [], errors, notes, moreErrors, rowCount: 0 };
  }
  const header = records[0].map((h) => h.trim());
  const label = labelColumn(spec);
  const features = spec.features.map((f) => f.name);
  const required = [...(spec.idColumn === undefined ? [] : [spec.idColumn]), ...(spec.timeColumn === undefined ? [] : [spec.timeColumn]), label, ...features];
  const index = new Map(header.map((h, i) => [h, i]));
  const missing = required.filter((c) => !index.has(c));
  for (const c of missing) fail({ line: 1, column: c, message: 'required column is missing from the header' });
  const seen = new Set<string>();
  header.forEach((h) => {
    if (seen.has(h)) fail({ line: 1, column: h, message: 'column appears twice in the header' });
    seen.add(h);
  });
  for (const h of new Set(header)) if (!required.includes(h)) notes.push({ line: 1, column: h, message: 'not a column of the spec: ignored' });
  if (errors.length > 0) return { rows: [], errors, notes, moreErrors, rowCount: records.length - 1 };

  const schema = rowSchema(spec);
  const rows: BatchRow[] = [];
  const repeats = new Map<string, { first: number; count: number }>();
  const ids = new Map<string, number>();
  const numericLabel = typeof spec.label === 'string' || spec.task === 'regression';
  const numbers = [...(numericLabel ? [label] : []), ...spec.features.filter((f) => !isStringCategory(f)).map((f) => f.name)].map((column) => ({ column, filled: 0, text: 0 }));
  const positiveValue = typeof spec.label === 'string' ? undefined : spec.label.positive;
  const positive = positiveValue === undefined ? undefined : { value: positiveValue, found: 0, others: new Set<string>() };
  for (let r = 1; r < records.length; r++) {
    const line = r + 1;
    const cells = records[r];
    if (cells.length !== header.length) {
      fail({ line, column: '*', message: `has ${cells.length} fields, the header has ${header.length}` });
      continue;
    }
    const raw: Record<string, string> = {};
    for (const c of required) raw[c] = cells[index.get(c)!];
    for (const n of numbers) {
      const cell = raw[n.column].trim();
      if (cell === '') continue;
      n.filled++;
      if (!NUMBER.test(cell)) n.text++;
    }
    if (positive) {
      if (matches(positive.value, raw[label])) positive.found++;
      else if (positive.others.size < 6 && raw[label].trim() !== '') positive.others.add(raw[label].trim());
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const column = String(issue.path[0] ?? '*');
        fail({ line, column, value: raw[column], message: issue.message });
      }
      continue;
    }
    const v = parsed.data as Record<string, number | string>;
    const y = v[label] as number;
    const x = features.map((f) => v[f] as FeatureValue);
    const time = spec.timeColumn === undefined ? undefined : (v[spec.timeColumn] as unknown as number);
    if (spec.idColumn === undefined) {
      // Identical observations are real (two wines measured alike): each is kept, its id numbered by occurrence.
      const hash = contentId(time === undefined ? x : [new Date(time).toISOString(), ...x], y);
      const seenBefore = repeats.get(hash);
      repeats.set(hash, { first: seenBefore?.first ?? line, count: (seenBefore?.count ?? 0) + 1 });
      rows.push({ id: seenBefore ? `${hash}#${seenBefore.count + 1}` : hash, label: y, features: x, ...(time === undefined ? {} : { time }) });
      continue;
    }
    const id = v[spec.idColumn] as string;
    const first = ids.get(id);
    if (first !== undefined) {
      fail({ line, column: spec.idColumn, value: id, message: `duplicate id, first seen on line ${first}` });
      continue;
    }
    ids.set(id, line);
    rows.push({ id, label: y, features: x, ...(time === undefined ? {} : { time }) });
  }
  const repeated = [...repeats.values()].filter((r) => r.count > 1);
  if (repeated.length > 0) {
    const extra = repeated.reduce((n, r) => n + r.count - 1, 0);
    notes.push({ column: '*', message: `${extra} row${extra === 1 ? '' : 's'} repeat an earlier row of this batch exactly (first on line${repeated.length === 1 ? '' : 's'} ${repeated.slice(0, 5).map((r) => r.first).join(', ')}${repeated.length > 5 ? ', …' : ''}): kept as separate observations, ids numbered "#2", "#3", …` });
  }
  if (rows.length === 0 && errors.length === 0) fail({ line: 2, column: '*', message: 'the batch has no data rows' });
  // A column whose type changed gives one cell error per row, most of them past the listed ones: say it once, first.
  const retyped = numbers.filter((n) => n.text > n.filled / 2);
  errors.unshift(...retyped.map((n) => ({ column: n.column, message: `holds text where a number is expected: ${n.text} of its ${n.filled} values are not numbers` })));
  // A binary label holds two values: two or more others and never the positive one means it is misspelt (or the wrong
  // column). A batch of one other value alone is a quiet batch of negatives, and stays.
  if (positive && positive.found === 0 && positive.others.size > 1) {
    const values = [...positive.others].slice(0, 5).map((o) => JSON.stringify(o));
    const more = positive.others.size > 5 ? ', …' : '';
    errors.unshift({ column: label, message: `the positive value ${JSON.stringify(positive.value)} never occurs in this batch; its values include ${values.join(', ')}${more} (label.positive)` });
  }
  return { rows: errors.length > 0 ? [] : rows, errors, notes, moreErrors, rowCount: records.length - 1 };
}

/** The canonical CSV of validated rows: the model's column order, so equal data hashes equally; a missing value is an empty cell. */
export function toCanonicalCsv(spec: ModelSpec, rows: BatchRow[]): string {
  if (spec.timeColumn === undefined) {
    const header = [rowKeyColumn(spec), ...spec.features.map((f) => f.name), labelColumn(spec)];
    return writeCsv([header, ...rows.map((r) => [r.id, ...r.features, r.label])]);
  }
  // The time, after the row key, as an ISO timestamp in UTC: one spelling of each instant.
  const header = [rowKeyColumn(spec), spec.timeColumn, ...spec.features.map((f) => f.name), labelColumn(spec)];
  return writeCsv([header, ...rows.map((r) => [r.id, new Date(r.time!).toISOString(), ...r.features, r.label])]);
}

/** Reads a canonical CSV written by toCanonicalCsv (trusted: it was validated before it was stored). */
export function fromCanonicalCsv(spec: Pick<ModelSpec, 'features' | 'timeColumn'>, csv: string): BatchRow[] {
  const strings = spec.features.map(isStringCategory);
  const first = spec.timeColumn === undefined ? 1 : 2;
  return readCsv(csv)
    .slice(1)
    .map(({ cells }) => ({
      id: cells[0],
      ...(first === 2 ? { time: Date.parse(cells[1]) } : {}),
      label: Number(cells[cells.length - 1]),
      features: cells.slice(first, -1).map((c, j) => (c === '' ? NaN : strings[j] ? c : Number(c))),
    }));
}

/** A validated row as a prediction request's instance: each feature by name (null where missing), its id where the model has an id column, its time where it has a time column. */
export function toInstance(spec: Pick<ModelSpec, 'features' | 'idColumn' | 'timeColumn'>, row: BatchRow): Record<string, FeatureValue | null> {
  const instance: Record<string, FeatureValue | null> = Object.fromEntries(spec.features.map((f, j) => [f.name, Number.isNaN(row.features[j]) ? null : row.features[j]]));
  if (spec.idColumn !== undefined) instance[spec.idColumn] = row.id;
  // The row's time, so the drift monitor measures its window in data time.
  if (spec.timeColumn !== undefined && row.time !== undefined) instance[spec.timeColumn] = new Date(row.time).toISOString();
  return instance;
}
