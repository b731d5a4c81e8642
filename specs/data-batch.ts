import { z } from 'zod';
import { CsvError, readCsv, writeCsv } from '../data/csv';
import type { FeatureSpec, ModelSpec } from './model-spec';

/** A number as batches, snapshots and price curves write it: no "inf", "0x10", "1_000" or padding. */
export const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const numeric = z
  .string()
  .trim()
  .refine((s) => s.length > 0, 'is empty')
  .refine((s) => s.length === 0 || NUMBER.test(s), 'is not a number')
  .transform(Number);

/** One feature's value as the model spec allows it: the same rules for a CSV cell and a JSON prediction request. */
export function featureValueSchema(f: FeatureSpec): z.ZodType<number, number> {
  let n = z.number({ error: 'must be a number' });
  if (f.type !== 'number') n = n.int('must be an integer');
  if (f.min !== undefined) n = n.min(f.min, `must be at least ${f.min}`);
  if (f.max !== undefined) n = n.max(f.max, `must be at most ${f.max}`);
  return f.values ? n.refine((v) => f.values!.includes(v), `must be one of ${f.values.join(', ')}`) : n;
}

/** A feature cell; where the spec allows missing values, an empty one is NaN (the trainers' missing value). */
function featureSchema(f: FeatureSpec, missing: boolean): z.ZodType<number, string> {
  const present = numeric.pipe(featureValueSchema(f));
  if (!missing) return present;
  return z.string().transform((cell, ctx) => {
    if (cell.trim() === '') return NaN;
    const parsed = present.safeParse(cell);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
    return z.NEVER;
  });
}

/** The zod schema of one CSV row of this model: column name → parsed value. */
export function rowSchema(spec: ModelSpec) {
  const shape: Record<string, z.ZodType<unknown, string>> = {
    [spec.idColumn]: z.string().trim().min(1, 'is empty'),
    [spec.label]: numeric.pipe(z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' })),
  };
  for (const f of spec.features) shape[f.name] = featureSchema(f, spec.validation.missingValues === 'allow');
  return z.object(shape);
}

export const batchRowSchema = z.object({
  id: z.string(),
  label: z.union([z.literal(0), z.literal(1)]),
  /** NaN where a value is missing (validation.missingValues: allow). */
  features: z.array(z.number().or(z.nan())),
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
  /** Errors beyond those listed (the report keeps the first MAX_LISTED_ERRORS). */
  moreErrors: number;
  rowCount: number;
}

export const MAX_LISTED_ERRORS = 200;

/**
 * Validates a whole CSV batch against the model's schema. It never returns a
 * partial result as good: any error makes the whole batch invalid.
 */
export function validateBatch(spec: ModelSpec, csv: string): BatchValidation {
  const errors: RowError[] = [];
  let moreErrors = 0;
  const fail = (e: RowError) => (errors.length < MAX_LISTED_ERRORS ? errors.push(e) : moreErrors++);

  let records: string[][];
  try {
    records = readCsv(csv).map((r) => r.cells);
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    fail({ line: err.line, column: '*', message: `not valid CSV: ${err.message}` });
    return { rows: [], errors, moreErrors, rowCount: 0 };
  }
  if (records.length === 0) {
    fail({ line: 1, column: '*', message: 'the file is empty: a header row is required' });
    return { rows: [], errors, moreErrors, rowCount: 0 };
  }
  const header = records[0].map((h) => h.trim());
  const required = [spec.idColumn, spec.label, ...spec.features.map((f) => f.name)];
  const index = new Map(header.map((h, i) => [h, i]));
  const missing = required.filter((c) => !index.has(c));
  for (const c of missing) fail({ line: 1, column: c, message: 'required column is missing from the header' });
  const seen = new Set<string>();
  header.forEach((h) => {
    if (seen.has(h)) fail({ line: 1, column: h, message: 'column appears twice in the header' });
    seen.add(h);
  });
  if (errors.length > 0) return { rows: [], errors, moreErrors, rowCount: records.length - 1 };

  const schema = rowSchema(spec);
  const rows: BatchRow[] = [];
  const ids = new Map<string, number>();
  const numbers = required.slice(1).map((column) => ({ column, filled: 0, text: 0 }));
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
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const column = String(issue.path[0] ?? '*');
        fail({ line, column, value: raw[column], message: issue.message });
      }
      continue;
    }
    const v = parsed.data as Record<string, number | string>;
    const id = v[spec.idColumn] as string;
    const first = ids.get(id);
    if (first !== undefined) {
      fail({ line, column: spec.idColumn, value: id, message: `duplicate id, first seen on line ${first}` });
      continue;
    }
    ids.set(id, line);
    rows.push({
      id,
      label: v[spec.label] as 0 | 1,
      features: spec.features.map((f) => v[f.name] as number),
    });
  }
  if (rows.length === 0 && errors.length === 0) fail({ line: 2, column: '*', message: 'the batch has no data rows' });
  // A column whose type changed gives one cell error per row, most of them past the listed ones: say it once, first.
  const retyped = numbers.filter((n) => n.text > n.filled / 2);
  errors.unshift(...retyped.map((n) => ({ column: n.column, message: `holds text where a number is expected: ${n.text} of its ${n.filled} values are not numbers` })));
  return { rows: errors.length > 0 ? [] : rows, errors, moreErrors, rowCount: records.length - 1 };
}

/** The canonical CSV of validated rows: the model's column order, so equal data hashes equally; a missing value is an empty cell. */
export function toCanonicalCsv(spec: ModelSpec, rows: BatchRow[]): string {
  const header = [spec.idColumn, ...spec.features.map((f) => f.name), spec.label];
  return writeCsv([header, ...rows.map((r) => [r.id, ...r.features, r.label])]);
}

/** Reads a canonical CSV written by toCanonicalCsv (trusted: it was validated before it was stored). */
export function fromCanonicalCsv(csv: string): BatchRow[] {
  return readCsv(csv)
    .slice(1)
    .map(({ cells }) => ({
      id: cells[0],
      label: Number(cells[cells.length - 1]) as 0 | 1,
      features: cells.slice(1, -1).map((c) => (c === '' ? NaN : Number(c))),
    }));
}
