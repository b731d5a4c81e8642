import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PricePoint } from './prices';
import { averagePrice } from './window';

const run = promisify(execFile);

/**
 * Watts drawn per fully busy core when there is no GPU telemetry. A server CPU's
 * rated power (roughly 150–350 W) spread over its 16–64 cores gives 5–20 W per
 * core; 15 W sits high in that range so the estimate does not undersell a run.
 */
export const DEFAULT_WATTS_PER_CORE = 15;

export interface PowerSample {
  atMs: number;
  powerW: number;
  /** Percent, averaged over GPUs. */
  utilisation?: number;
  /** Summed over GPUs. */
  memoryMiB?: number;
}

export interface EnergySummary {
  source: 'nvidia-smi' | 'cpu-estimate';
  kWh: number;
  avgPowerW: number;
  peakPowerW?: number;
  avgUtilisation?: number;
  peakMemoryMiB?: number;
  samples: number;
  durationMs: number;
  estimated: boolean;
  method: string;
}

export interface EnergyMeterOptions {
  intervalMs?: number;
  wattsPerCore?: number;
  /** The nvidia-smi executable, for hosts that keep it off PATH. */
  nvidiaSmi?: string;
  /** The one GPU the run was given (its index); unset: every GPU of the host. */
  device?: string;
  /** Cumulative CPU milliseconds spent outside this process for the run, e.g. by a trainer child. */
  extraCpuMs?: () => number;
}

export interface EnergyMeter {
  sample(): PowerSample | undefined;
  stop(): Promise<EnergySummary>;
}

const QUERY = ['--query-gpu=power.draw,utilization.gpu,memory.used', '--format=csv,noheader,nounits'];

/** One reading over the device (all GPUs without one), or a throw when nvidia-smi is missing, fails or prints "[N/A]". */
async function readGpus(nvidiaSmi: string, device?: string): Promise<PowerSample> {
  const { stdout } = await run(nvidiaSmi, [...QUERY, ...(device === undefined ? [] : ['-i', device])], { timeout: 5_000 });
  const gpus = stdout.trim().split('\n').map((line) => line.split(',').map((v) => Number(v.trim())));
  if (gpus.length === 0 || gpus.some((g) => g.length !== 3 || g.some((v) => !Number.isFinite(v)))) {
    throw new Error(`nvidia-smi printed ${JSON.stringify(stdout)}`);
  }
  return {
    atMs: Date.now(),
    powerW: gpus.reduce((sum, g) => sum + g[0], 0),
    utilisation: gpus.reduce((sum, g) => sum + g[1], 0) / gpus.length,
    memoryMiB: gpus.reduce((sum, g) => sum + g[2], 0),
  };
}

/** Energy under the power curve by the trapezoidal rule, in kWh; samples may come in any order. */
export function energyFromSamples(samples: Pick<PowerSample, 'atMs' | 'powerW'>[]): number {
  const sorted = [...samples].sort((a, b) => a.atMs - b.atMs);
  let joules = 0;
  for (let i = 1; i < sorted.length; i++) {
    joules += ((sorted[i - 1].powerW + sorted[i].powerW) / 2) * ((sorted[i].atMs - sorted[i - 1].atMs) / 1000);
  }
  return joules / 3.6e6;
}

/** What `kWh` spread evenly over [start, end) cost at the curve's time-weighted price, in the curve's currency. */
export function costOf(kWh: number, curve: PricePoint[], start: Date, end: Date): number {
  const price = averagePrice(curve, start, end);
  if (price === undefined) {
    throw new Error(`the price curve does not cover ${start.toISOString()} to ${end.toISOString()}`);
  }
  return (kWh / 1000) * price;
}

/**
 * Starts sampling power every `intervalMs` (5 s). nvidia-smi is tried once at the
 * start; without it the meter estimates from CPU time for the whole run, since
 * mixing measured and estimated readings would make neither meaningful.
 */
export async function startEnergyMeter(opts: EnergyMeterOptions = {}): Promise<EnergyMeter> {
  const intervalMs = opts.intervalMs ?? 5_000;
  const wattsPerCore = opts.wattsPerCore ?? DEFAULT_WATTS_PER_CORE;
  const nvidiaSmi = opts.nvidiaSmi ?? 'nvidia-smi';
  const cpuMs = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000 + (opts.extraCpuMs?.() ?? 0);
  };

  const startedAt = Date.now();
  const cpuAtStart = cpuMs();
  const first = await readGpus(nvidiaSmi, opts.device).catch(() => undefined);
  const gpu = first !== undefined;
  const samples: PowerSample[] = first ? [first] : [];
  let last = { atMs: startedAt, cpuMs: cpuAtStart };

  const take = async () => {
    if (gpu) {
      // One failed read (a driver hiccup) leaves a gap the integration bridges rather than ending the meter.
      const reading = await readGpus(nvidiaSmi, opts.device).catch(() => undefined);
      if (reading) samples.push(reading);
      return;
    }
    const now = { atMs: Date.now(), cpuMs: cpuMs() };
    const wallMs = now.atMs - last.atMs;
    samples.push({ atMs: now.atMs, powerW: wallMs > 0 ? ((now.cpuMs - last.cpuMs) / wallMs) * wattsPerCore : 0 });
    last = now;
  };

  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    inFlight ??= take().finally(() => (inFlight = undefined));
  }, intervalMs);
  timer.unref();

  return {
    sample: () => samples[samples.length - 1],
    async stop() {
      clearInterval(timer);
      await inFlight;
      await take();
      const durationMs = Date.now() - startedAt;
      if (!gpu) {
        const kWh = (((last.cpuMs - cpuAtStart) / 1000) * wattsPerCore) / 3.6e6;
        return {
          source: 'cpu-estimate',
          kWh,
          avgPowerW: durationMs > 0 ? (kWh * 3.6e9) / durationMs : 0,
          samples: samples.length,
          durationMs,
          estimated: true,
          method: `CPU time × ${wattsPerCore} W per busy core (estimate, no GPU telemetry)`,
        };
      }
      const kWh = energyFromSamples(samples);
      const spanMs = samples[samples.length - 1].atMs - samples[0].atMs;
      return {
        source: 'nvidia-smi',
        kWh,
        avgPowerW: spanMs > 0 ? (kWh * 3.6e9) / spanMs : samples[0].powerW,
        peakPowerW: Math.max(...samples.map((s) => s.powerW)),
        avgUtilisation: samples.reduce((sum, s) => sum + s.utilisation!, 0) / samples.length,
        peakMemoryMiB: Math.max(...samples.map((s) => s.memoryMiB!)),
        samples: samples.length,
        durationMs,
        estimated: false,
        method: `GPU board power from nvidia-smi every ${intervalMs / 1000} s, integrated over ${samples.length} samples by the trapezoidal rule`,
      };
    },
  };
}
