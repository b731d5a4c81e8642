import { configuredPriceSource, meterTraining } from '../../activities/training-energy';
import type { PriceSource } from '../../energy/prices';

/** Keeps this process busy, so the CPU estimate has something to count. */
function burn(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('training energy', () => {
  test('an unset price feed means the synthetic sample curve, named as such', () => {
    expect(configuredPriceSource(undefined).name).toMatch(/^sample day-ahead curve \(synthetic/);
    expect(configuredPriceSource('https://prices.example/feed').name).toBe('https://prices.example/feed');
  });

  test('the run is metered and priced; the child CPU time it is told about counts', async () => {
    let childCpuMs = 0;
    const meter = await meterTraining(configuredPriceSource(undefined), { extraCpuMs: () => childCpuMs });
    burn(50);
    childCpuMs = 3_600;
    const energy = await meter.finish();
    expect(await meter.finish()).toBe(energy);
    expect(energy.kWh).toBeGreaterThan(0);
    expect(energy.cost).toBeGreaterThan(0);
    expect(energy.currency).toBe('EUR');
    expect(energy.costError).toBeUndefined();
    if (energy.estimated) {
      // At least the 3.6 s the child reported, at 15 W per busy core.
      expect(energy.kWh).toBeGreaterThanOrEqual((3.6 * 15) / 3.6e6);
      expect(energy.method).toContain('CPU time');
    }
    expect(Date.parse(energy.endedAt)).toBeGreaterThanOrEqual(Date.parse(energy.startedAt));
  });

  test('a failing price source leaves the cost unknown with the reason, and the energy stands', async () => {
    const down: PriceSource = { name: 'http://prices.invalid/', curve: () => Promise.reject(new Error('price feed http://prices.invalid/: unreachable (ENOTFOUND)')) };
    const meter = await meterTraining(down, { estimateNote: 'only the worker is counted' });
    burn(20);
    const energy = await meter.finish();
    expect(energy).toMatchObject({ cost: null, currency: null, priceSource: 'http://prices.invalid/', costError: 'price feed http://prices.invalid/: unreachable (ENOTFOUND)' });
    expect(energy.kWh).toBeGreaterThan(0);
    if (energy.estimated) expect(energy.method).toMatch(/; only the worker is counted$/);
  });
});
