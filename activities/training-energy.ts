import { SAMPLE_PRICE_CURVE, priceSourceFromConfig, type PriceSource } from '../energy/prices';
import { costOf, startEnergyMeter, type PowerSample } from '../energy/telemetry';
import type { TrainingEnergy } from '../contracts/payloads';

/** FACTORY_PRICE_FEED, or the shipped synthetic curve under a name that says so, so its figures are not taken for real costs. */
export function configuredPriceSource(feed: string | undefined): PriceSource {
  if (feed) return priceSourceFromConfig(feed);
  const sample = priceSourceFromConfig(SAMPLE_PRICE_CURVE);
  return { name: 'sample day-ahead curve (synthetic: energy/sample-day-ahead.csv)', curve: (from, to) => sample.curve(from, to) };
}

export interface TrainingMeter {
  /** The latest power reading, for the heartbeat. */
  sample(): PowerSample | undefined;
  /** Stops the meter and prices the energy; later calls give the same answer. */
  finish(): Promise<TrainingEnergy>;
}

/**
 * Meters a training run (energy/telemetry.ts) and prices it. The price is a
 * nice-to-have: a feed that is down or does not cover the run gives a null cost
 * with the reason, never a failed training.
 */
export async function meterTraining(prices: PriceSource, opts: { extraCpuMs?: () => number; estimateNote?: string; device?: string } = {}): Promise<TrainingMeter> {
  const startedAt = new Date();
  const meter = await startEnergyMeter({ extraCpuMs: opts.extraCpuMs, device: opts.device });
  let result: Promise<TrainingEnergy> | undefined;
  const finish = async (): Promise<TrainingEnergy> => {
    const summary = await meter.stop();
    const endedAt = new Date();
    const method = summary.estimated && opts.estimateNote ? `${summary.method}; ${opts.estimateNote}` : summary.method;
    const energy = { ...summary, method, priceSource: prices.name, startedAt: startedAt.toISOString(), endedAt: endedAt.toISOString() };
    try {
      const curve = await prices.curve(startedAt, endedAt);
      return { ...energy, cost: costOf(summary.kWh, curve, startedAt, endedAt), currency: curve[0].currency };
    } catch (err) {
      return { ...energy, cost: null, currency: null, costError: err instanceof Error ? err.message : String(err) };
    }
  };
  return { sample: () => meter.sample(), finish: () => (result ??= finish()) };
}
