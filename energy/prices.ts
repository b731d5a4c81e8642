import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CsvError, readCsv, type CsvRecord } from '../data/csv';
import { NUMBER } from '../specs/data-batch';

/** The shipped sample curve; the build does not copy it into dist/, so it is found from the project root. */
export const SAMPLE_PRICE_CURVE = path.resolve(__dirname, '..', '..', 'energy', 'sample-day-ahead.csv');

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A local time without an offset means a different instant in every timezone, so it is refused. */
const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO time with a timezone (Z or ±hh:mm)' });
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be a three-letter currency code');

export const pricePointSchema = z
  .object({
    start: isoTime,
    end: isoTime,
    /** Day-ahead prices do go negative when renewables flood the grid, so no lower bound. */
    pricePerMWh: z.number(),
    currency,
  })
  .refine((p) => Date.parse(p.end) > Date.parse(p.start), { message: 'end must be after start', path: ['end'] });
export type PricePoint = z.infer<typeof pricePointSchema>;

export interface PriceSource {
  readonly name: string;
  /** The points overlapping [from, to), in time order. */
  curve(from: Date, to: Date): Promise<PricePoint[]>;
}

function point(start: number, end: number, pricePerMWh: number, ccy: string): PricePoint {
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString(), pricePerMWh, currency: ccy };
}

function within(points: PricePoint[], from: Date, to: Date): PricePoint[] {
  return points
    .filter((p) => Date.parse(p.end) > from.getTime() && Date.parse(p.start) < to.getTime())
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

/** Whether the points leave no gap anywhere in [from, to). */
function covers(points: PricePoint[], from: Date, to: Date): boolean {
  let reached = from.getTime();
  for (const p of within(points, from, to)) {
    if (Date.parse(p.start) > reached) return false;
    reached = Math.max(reached, Date.parse(p.end));
  }
  return reached >= to.getTime();
}

const csvRowSchema = z.object({
  start: isoTime,
  end: isoTime.optional(),
  price: z.string().regex(NUMBER, 'is not a number').transform(Number),
});

/** The price column names its currency, so a file cannot be read in the wrong unit. */
const PRICE_COLUMN = /^price_([a-z]{3})_per_mwh$/i;

/**
 * A price curve from a CSV file: a `start` column, a `price_<currency>_per_mwh`
 * column and optionally `end` (else start + resolution, hourly by default).
 *
 * Daily profile: when the file does not cover the requested range, the file's
 * first day (its first 24 hours) is repeated on every day of the range, shifted
 * by whole 24-hour steps. That makes a one-day sample curve usable on any date;
 * across a DST change its shape lands an hour off local time.
 */
export class CsvPriceSource implements PriceSource {
  readonly name: string;

  constructor(
    readonly file: string,
    private readonly resolutionMs = HOUR_MS,
  ) {
    this.name = `csv:${file}`;
  }

  async curve(from: Date, to: Date): Promise<PricePoint[]> {
    const points = this.parse(await fs.readFile(this.file, 'utf8'));
    if (covers(points, from, to)) return within(points, from, to);
    return within(dailyProfile(points, from, to), from, to);
  }

  private parse(text: string): PricePoint[] {
    const fail = (line: number, column: string, message: string) =>
      new Error(`${this.file} line ${line}, column ${column}: ${message}`);
    let records: CsvRecord[];
    try {
      records = readCsv(text, { trim: true });
    } catch (err) {
      if (!(err instanceof CsvError)) throw err;
      throw fail(err.line, '*', `not valid CSV: ${err.message}`);
    }
    if (records.length === 0) throw new Error(`${this.file}: empty file, expected a header line`);

    const header = records[0].cells;
    const startAt = header.indexOf('start');
    const endAt = header.indexOf('end');
    const priceAt = header.findIndex((h) => PRICE_COLUMN.test(h));
    if (startAt < 0) throw fail(1, 'start', 'missing from the header');
    if (priceAt < 0) throw fail(1, 'price_<currency>_per_mwh', `missing from the header (${header.join(',')})`);
    const ccy = PRICE_COLUMN.exec(header[priceAt])![1].toUpperCase();
    const columnAt = { start: startAt, end: endAt, price: priceAt };

    const points = records.slice(1).map(({ cells, line }) => {
      if (cells.length !== header.length) throw fail(line, '*', `has ${cells.length} fields, the header has ${header.length}`);
      const row = csvRowSchema.safeParse({
        start: cells[startAt],
        end: endAt < 0 ? undefined : cells[endAt],
        price: cells[priceAt],
      });
      if (!row.success) {
        const issue = row.error.issues[0];
        const at = columnAt[issue.path[0] as keyof typeof columnAt];
        throw fail(line, header[at], `"${cells[at] ?? ''}" ${issue.message}`);
      }
      const start = Date.parse(row.data.start);
      const end = row.data.end ? Date.parse(row.data.end) : start + this.resolutionMs;
      if (end <= start) throw fail(line, header[endAt], 'end must be after start');
      return point(start, end, row.data.price, ccy);
    });
    if (points.length === 0) throw new Error(`${this.file}: no price rows under the header`);
    return points;
  }
}

function dailyProfile(points: PricePoint[], from: Date, to: Date): PricePoint[] {
  const sorted = [...points].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const dayStart = Date.parse(sorted[0].start);
  const firstDay = sorted.filter((p) => Date.parse(p.start) < dayStart + DAY_MS);
  const out: PricePoint[] = [];
  const first = Math.floor((from.getTime() - dayStart) / DAY_MS);
  const last = Math.ceil((to.getTime() - dayStart) / DAY_MS);
  for (let day = first; day <= last; day++) {
    const shift = day * DAY_MS;
    for (const p of firstDay) {
      out.push(point(Date.parse(p.start) + shift, Date.parse(p.end) + shift, p.pricePerMWh, p.currency));
    }
  }
  return out;
}

/** What a live feed must answer: `end` defaults to start + one hour, `currency` to EUR. */
const feedSchema = z.object({
  prices: z.array(z.object({ start: isoTime, end: isoTime.optional(), price: z.number() })).min(1),
  currency: currency.default('EUR'),
});

/** A price curve from a JSON feed, fetched on every call so it follows the market's updates. */
export class HttpPriceSource implements PriceSource {
  readonly name: string;

  constructor(
    readonly url: string,
    private readonly timeoutMs = 5_000,
  ) {
    this.name = url;
  }

  async curve(from: Date, to: Date): Promise<PricePoint[]> {
    const fail = (what: string) => new Error(`price feed ${this.url}: ${what}`);
    let res: Response;
    try {
      res = await fetch(this.url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError') throw fail(`no answer within ${this.timeoutMs} ms`);
      throw fail(`unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})`);
    }
    if (!res.ok) throw fail(`HTTP ${res.status} ${res.statusText}`.trim());
    let body: unknown;
    try {
      body = await res.json();
    } catch (err) {
      throw fail(`body is not JSON (${(err as Error).message})`);
    }
    const feed = feedSchema.safeParse(body);
    if (!feed.success) {
      const issue = feed.error.issues[0];
      throw fail(`body does not match { prices: [{ start, end?, price }], currency? }: ${issue.path.join('.') || '(root)'} ${issue.message}`);
    }
    const points = feed.data.prices.map((p) => {
      const start = Date.parse(p.start);
      const end = p.end ? Date.parse(p.end) : start + HOUR_MS;
      if (end <= start) throw fail(`price at ${p.start} ends before it starts`);
      return point(start, end, p.price, feed.data.currency);
    });
    return within(points, from, to);
  }
}

/** A price source from a setting: an http(s) URL is a live feed, anything else a CSV file path. */
export function priceSourceFromConfig(value: string): PriceSource {
  return /^https?:\/\//i.test(value) ? new HttpPriceSource(value) : new CsvPriceSource(path.resolve(value));
}
