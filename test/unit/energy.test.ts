import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CsvPriceSource,
  HttpPriceSource,
  SAMPLE_PRICE_CURVE,
  pricePointSchema,
  priceSourceFromConfig,
  type PricePoint,
} from '../../energy/prices';
import { costOf, energyFromSamples, startEnergyMeter } from '../../energy/telemetry';
import { averagePrice, cheapestWindow } from '../../energy/window';

const HOUR = 3_600_000;
const sample = new CsvPriceSource(SAMPLE_PRICE_CURVE);
const at = (iso: string) => new Date(iso);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeCsv(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Hourly points from `from` with these prices, EUR. */
function hourly(from: string, prices: number[]): PricePoint[] {
  const t0 = Date.parse(from);
  return prices.map((p, i) => ({
    start: new Date(t0 + i * HOUR).toISOString(),
    end: new Date(t0 + (i + 1) * HOUR).toISOString(),
    pricePerMWh: p,
    currency: 'EUR',
  }));
}

describe('price sources', () => {
  test('the sample day-ahead CSV is 24 valid hourly EUR points with the night cheapest and the evening dearest', async () => {
    const points = await sample.curve(at('2025-01-15T00:00:00+01:00'), at('2025-01-16T00:00:00+01:00'));
    expect(points).toHaveLength(24);
    for (const p of points) {
      expect(pricePointSchema.parse(p)).toEqual(p);
      expect(Date.parse(p.end) - Date.parse(p.start)).toBe(HOUR);
    }
    expect(points[0]).toEqual({ start: '2025-01-14T23:00:00.000Z', end: '2025-01-15T00:00:00.000Z', pricePerMWh: 78.4, currency: 'EUR' });
    const prices = points.map((p) => p.pricePerMWh);
    expect(prices.indexOf(Math.min(...prices))).toBeLessThan(6);
    expect([18, 19]).toContain(prices.indexOf(Math.max(...prices)));
  });

  test('outside the file\'s day the first day\'s shape is repeated (daily profile)', async () => {
    const day = await sample.curve(at('2025-01-15T00:00:00+01:00'), at('2025-01-16T00:00:00+01:00'));
    const other = await sample.curve(at('2026-03-02T00:00:00+01:00'), at('2026-03-04T00:00:00+01:00'));
    expect(other).toHaveLength(48);
    expect(other[0].start).toBe('2026-03-01T23:00:00.000Z');
    expect(other.map((p) => p.pricePerMWh)).toEqual([...day, ...day].map((p) => p.pricePerMWh));
    // A range cutting into hours still gets the hours it overlaps, no more.
    const partial = await sample.curve(at('2026-03-02T10:30:00+01:00'), at('2026-03-02T12:00:00+01:00'));
    expect(partial.map((p) => p.pricePerMWh)).toEqual([day[10].pricePerMWh, day[11].pricePerMWh]);
  });

  test('a file covering the range is used as it is, not replaced by the profile', async () => {
    const file = writeCsv('two-days.csv', 'start,price_eur_per_mwh\n2025-01-15T00:00:00Z,10\n2025-01-15T01:00:00Z,20\n2025-01-16T00:00:00Z,99\n');
    const points = await new CsvPriceSource(file).curve(at('2025-01-16T00:00:00Z'), at('2025-01-16T01:00:00Z'));
    expect(points.map((p) => p.pricePerMWh)).toEqual([99]);
  });

  test.each([
    ['a price that is not a number', '2025-01-15T02:00:00Z,abc', 4, 'price_eur_per_mwh', 'not a number'],
    ['a time without a timezone', '2025-01-15T02:00:00,70', 4, 'start', 'timezone'],
  ])('a bad row (%s) fails naming the file, line and column', async (_what, bad, line, column, message) => {
    const file = writeCsv(`bad-${column}.csv`, `start,price_eur_per_mwh\n2025-01-15T00:00:00Z,60\n\n${bad}\n2025-01-15T03:00:00Z,70\n`);
    const err = await new CsvPriceSource(file).curve(at('2025-01-15T00:00:00Z'), at('2025-01-15T04:00:00Z')).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain(`line ${line}, column ${column}`);
    expect((err as Error).message).toContain(message);
  });

  test('a file without a currency-bearing price column is refused at the header', async () => {
    const file = writeCsv('no-price.csv', 'start,price\n2025-01-15T00:00:00Z,60\n');
    await expect(new CsvPriceSource(file).curve(at('2025-01-15T00:00:00Z'), at('2025-01-15T01:00:00Z'))).rejects.toThrow(
      /line 1, column price_<currency>_per_mwh/,
    );
  });

  test('priceSourceFromConfig picks HTTP for URLs and CSV otherwise', () => {
    expect(priceSourceFromConfig('https://prices.example/day-ahead')).toBeInstanceOf(HttpPriceSource);
    expect(priceSourceFromConfig('HTTP://127.0.0.1:1/p')).toBeInstanceOf(HttpPriceSource);
    const csv = priceSourceFromConfig('energy/sample-day-ahead.csv');
    expect(csv).toBeInstanceOf(CsvPriceSource);
    expect((csv as CsvPriceSource).file).toBe(path.resolve('energy/sample-day-ahead.csv'));
  });
});

describe('HttpPriceSource', () => {
  let server: http.Server;
  let base: string;
  const routes: Record<string, { status: number; body: string }> = {
    '/ok': {
      status: 200,
      body: JSON.stringify({
        currency: 'NOK',
        prices: [
          { start: '2025-01-15T00:00:00+01:00', price: 800 },
          { start: '2025-01-15T01:00:00+01:00', end: '2025-01-15T01:30:00+01:00', price: -5.5 },
          { start: '2025-01-15T05:00:00+01:00', price: 900 },
        ],
      }),
    },
    '/down': { status: 503, body: 'maintenance' },
    '/html': { status: 200, body: '<html>' },
    '/wrong': { status: 200, body: JSON.stringify({ prices: [{ start: '2025-01-15T00:00:00Z', price: '80' }] }) },
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const route = routes[req.url ?? ''] ?? { status: 404, body: '' };
      res.writeHead(route.status, { 'content-type': 'application/json' }).end(route.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('returns the feed\'s points in the range, with defaults for end and its currency', async () => {
    const points = await new HttpPriceSource(`${base}/ok`).curve(at('2025-01-15T00:00:00+01:00'), at('2025-01-15T02:00:00+01:00'));
    expect(points).toEqual([
      { start: '2025-01-14T23:00:00.000Z', end: '2025-01-15T00:00:00.000Z', pricePerMWh: 800, currency: 'NOK' },
      { start: '2025-01-15T00:00:00.000Z', end: '2025-01-15T00:30:00.000Z', pricePerMWh: -5.5, currency: 'NOK' },
    ]);
  });

  test.each([
    ['/down', 'HTTP 503'],
    ['/html', 'not JSON'],
    ['/wrong', 'prices.0.price'],
  ])('%s fails naming the URL and the fault', async (route, fault) => {
    const err = await new HttpPriceSource(`${base}${route}`).curve(at('2025-01-15T00:00:00Z'), at('2025-01-16T00:00:00Z')).catch((e: Error) => e);
    expect((err as Error).message).toContain(`${base}${route}`);
    expect((err as Error).message).toContain(fault);
  });

  test('a closed port fails naming the URL and the refusal', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/prices`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(new HttpPriceSource(url).curve(at('2025-01-15T00:00:00Z'), at('2025-01-16T00:00:00Z'))).rejects.toThrow(
      `price feed ${url}: unreachable (ECONNREFUSED)`,
    );
  });

  test('a feed that does not answer in time fails with the timeout', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    try {
      await expect(new HttpPriceSource(url, 200).curve(at('2025-01-15T00:00:00Z'), at('2025-01-16T00:00:00Z'))).rejects.toThrow(
        `price feed ${url}: no answer within 200 ms`,
      );
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('cheapestWindow', () => {
  const now = at('2025-01-15T12:00:00+01:00');

  test('picks the night before a far deadline and says how much that saves', async () => {
    const deadline = at('2025-01-16T12:00:00+01:00');
    const curve = await sample.curve(now, deadline);
    const w = cheapestWindow({ curve, now, durationMs: 3 * HOUR, deadline });
    // 02:00–05:00 (68.5, 65.2, 66.0) is the cheapest three hours of the sample day.
    expect(w.start).toEqual(at('2025-01-16T02:00:00+01:00'));
    expect(w.end).toEqual(at('2025-01-16T05:00:00+01:00'));
    expect(w.reason).toBe('cheapest-before-deadline');
    expect(w.averagePrice).toBeCloseTo((68.5 + 65.2 + 66.0) / 3, 9);
    const nowPrice = (109.8 + 104.1 + 112.7) / 3;
    expect(w.savingsVsNow).toBeCloseTo((nowPrice - w.averagePrice!) / nowPrice, 9);
    expect(w.explanation).toContain('2025-01-16T01:00:00.000Z');
    expect(w.explanation).toContain('EUR/MWh');
  });

  test('never ends after the deadline, even when the cheapest hours lie beyond it', async () => {
    const curve = await sample.curve(now, at('2025-01-17T00:00:00+01:00'));
    const deadline = at('2025-01-16T04:00:00+01:00');
    const w = cheapestWindow({ curve, now, durationMs: 3 * HOUR, deadline });
    expect(w.start).toEqual(at('2025-01-16T01:00:00+01:00'));
    expect(w.end).toEqual(deadline);
    for (let h = 4; h <= 30; h++) {
      const d = new Date(now.getTime() + h * HOUR + 7 * 60_000);
      const c = cheapestWindow({ curve, now, durationMs: 3 * HOUR, deadline: d });
      expect(c.end.getTime()).toBeLessThanOrEqual(d.getTime());
      expect(c.start.getTime()).toBeGreaterThanOrEqual(now.getTime());
      expect(c.end.getTime() - c.start.getTime()).toBe(3 * HOUR);
    }
  });

  test('with a ceiling, takes the earliest window at or under it rather than the cheapest', async () => {
    const from = at('2025-01-15T09:00:00+01:00');
    const deadline = at('2025-01-16T09:00:00+01:00');
    const curve = await sample.curve(from, deadline);
    const w = cheapestWindow({ curve, now: from, durationMs: 2 * HOUR, deadline, ceilingPerMWh: 130 });
    // 10:15–12:15 averages (0.75 × 141.2 + 122.5 + 0.25 × 109.8) / 2 = 127.925; a quarter hour earlier it is 131.85.
    expect(w.reason).toBe('below-ceiling');
    expect(w.start).toEqual(at('2025-01-15T10:15:00+01:00'));
    expect(w.averagePrice).toBeCloseTo(127.925, 9);
    expect(averagePrice(curve, at('2025-01-15T10:00:00+01:00'), at('2025-01-15T12:00:00+01:00'))).toBeGreaterThan(130);
  });

  test('a ceiling nothing meets falls back to the cheapest and says so', async () => {
    const deadline = at('2025-01-16T12:00:00+01:00');
    const curve = await sample.curve(now, deadline);
    const w = cheapestWindow({ curve, now, durationMs: 3 * HOUR, deadline, ceilingPerMWh: 10 });
    expect(w.reason).toBe('cheapest-before-deadline');
    expect(w.start).toEqual(at('2025-01-16T02:00:00+01:00'));
    expect(w.explanation).toContain('No run before the deadline stays under the ceiling');
  });

  test('starts now when the deadline is too close to wait', async () => {
    const curve = await sample.curve(now, at('2025-01-16T00:00:00+01:00'));
    const w = cheapestWindow({ curve, now, durationMs: 2 * HOUR, deadline: at('2025-01-15T13:00:00+01:00') });
    expect(w.reason).toBe('now');
    expect(w.start).toEqual(now);
    expect(w.savingsVsNow).toBe(0);
    expect(w.explanation).toContain('no time to wait');
  });

  test('skips windows the curve does not cover, and starts now when it covers none', () => {
    const t0 = '2025-01-15T00:00:00Z';
    // 01:00–03:00 would look cheapest if the unknown hour 02:00 were free or left out of the average.
    const gappy = [...hourly(t0, [100, 2]), ...hourly('2025-01-15T03:00:00Z', [5, 5])];
    const w = cheapestWindow({ curve: gappy, now: at(t0), durationMs: 2 * HOUR, deadline: at('2025-01-15T05:00:00Z') });
    expect(w.start).toEqual(at('2025-01-15T03:00:00Z'));
    expect(w.averagePrice).toBe(5);
    const short = cheapestWindow({ curve: hourly(t0, [50]), now: at(t0), durationMs: 2 * HOUR, deadline: at('2025-01-15T06:00:00Z') });
    expect(short.reason).toBe('now');
    expect(short.start).toEqual(at(t0));
    expect(short.averagePrice).toBeNull();
    expect(short.explanation).toContain('does not cover');
  });

  test('averagePrice is weighted by time and refuses gaps', () => {
    const curve = hourly('2025-01-15T00:00:00Z', [100, 40]);
    expect(averagePrice(curve, at('2025-01-15T00:30:00Z'), at('2025-01-15T02:00:00Z'))).toBeCloseTo((0.5 * 100 + 40) / 1.5, 9);
    expect(averagePrice(curve, at('2025-01-15T01:00:00Z'), at('2025-01-15T02:30:00Z'))).toBeUndefined();
  });
});

describe('energy telemetry', () => {
  test('constant 300 W for an hour is 0.3 kWh, whatever the sample spacing', () => {
    const t0 = Date.parse('2025-01-15T00:00:00Z');
    expect(energyFromSamples([{ atMs: t0, powerW: 300 }, { atMs: t0 + HOUR, powerW: 300 }])).toBeCloseTo(0.3, 12);
    const uneven = [0, 1, 7, 30, 59, 60].map((m) => ({ atMs: t0 + m * 60_000, powerW: 300 }));
    expect(energyFromSamples(uneven.reverse())).toBeCloseTo(0.3, 12);
    // A ramp from 0 to 600 W is the same energy as 300 W flat.
    expect(energyFromSamples([{ atMs: t0, powerW: 0 }, { atMs: t0 + HOUR, powerW: 600 }])).toBeCloseTo(0.3, 12);
    expect(energyFromSamples([{ atMs: t0, powerW: 300 }])).toBe(0);
  });

  test('costOf prices energy at the curve\'s time-weighted average', async () => {
    const curve = await sample.curve(at('2025-01-15T00:00:00+01:00'), at('2025-01-16T00:00:00+01:00'));
    // 01:00–03:00 costs 72.1 then 68.5 EUR/MWh: 2 kWh at 70.3 EUR/MWh is 0.1406 EUR.
    expect(costOf(2, curve, at('2025-01-15T01:00:00+01:00'), at('2025-01-15T03:00:00+01:00'))).toBeCloseTo(0.1406, 12);
    expect(() => costOf(2, curve, at('2025-01-15T23:00:00+01:00'), at('2025-01-16T01:00:00+01:00'))).toThrow(/does not cover/);
  });

  test('without nvidia-smi the meter estimates from CPU time', async () => {
    const meter = await startEnergyMeter({ nvidiaSmi: path.join(tmp, 'no-such-nvidia-smi'), intervalMs: 20, wattsPerCore: 10 });
    const cpuBefore = process.cpuUsage();
    const until = Date.now() + 200;
    let spin = 0;
    while (Date.now() < until) spin += Math.sqrt(spin + 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const cpu = process.cpuUsage(cpuBefore);
    const summary = await meter.stop();
    expect(spin).toBeGreaterThan(0);
    expect(summary.source).toBe('cpu-estimate');
    expect(summary.estimated).toBe(true);
    expect(summary.method).toBe('CPU time × 10 W per busy core (estimate, no GPU telemetry)');
    const busySeconds = (cpu.user + cpu.system) / 1e6;
    expect(summary.kWh).toBeGreaterThanOrEqual((busySeconds * 10) / 3.6e6);
    expect(summary.kWh).toBeLessThan(((busySeconds + 0.5) * 10) / 3.6e6);
    expect(summary.durationMs).toBeGreaterThanOrEqual(250);
    expect(summary.avgPowerW).toBeCloseTo((summary.kWh * 3.6e9) / summary.durationMs, 9);
    expect(summary.samples).toBeGreaterThanOrEqual(1);
    expect(meter.sample()?.powerW).toBeGreaterThanOrEqual(0);
  });

  test('with nvidia-smi the meter sums the GPUs and integrates their power', async () => {
    const fake = writeCsv('nvidia-smi', '#!/bin/sh\necho "250.50, 90, 40000"\necho "249.50, 80, 30000"\n');
    fs.chmodSync(fake, 0o755);
    const meter = await startEnergyMeter({ nvidiaSmi: fake, intervalMs: 50 });
    expect(meter.sample()).toMatchObject({ powerW: 500, utilisation: 85, memoryMiB: 70000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const summary = await meter.stop();
    expect(summary).toMatchObject({ source: 'nvidia-smi', estimated: false, peakPowerW: 500, avgUtilisation: 85, peakMemoryMiB: 70000 });
    expect(summary.avgPowerW).toBeCloseTo(500, 6);
    expect(summary.samples).toBeGreaterThanOrEqual(3);
    expect(summary.kWh).toBeGreaterThan((500 * 0.25) / 3.6e6);
    expect(summary.kWh).toBeLessThanOrEqual((500 * (summary.durationMs / 1000)) / 3.6e6);
  });

  test('nvidia-smi printing [N/A] counts as no GPU telemetry', async () => {
    const fake = writeCsv('nvidia-smi-na', '#!/bin/sh\necho "[N/A], 0, 100"\n');
    fs.chmodSync(fake, 0o755);
    const meter = await startEnergyMeter({ nvidiaSmi: fake, intervalMs: 1000 });
    expect((await meter.stop()).source).toBe('cpu-estimate');
  });
});
