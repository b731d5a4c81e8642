import { execFileSync } from 'node:child_process';
import type { FactoryEnv } from '../config/env';

/**
 * The GPU devices this host's training worker hands out: FACTORY_GPUS (a count,
 * or the device indexes to use), else every device nvidia-smi lists; none on a
 * host without GPUs.
 */
export function hostGpus(env: Pick<FactoryEnv, 'FACTORY_GPUS'>, nvidiaSmi = 'nvidia-smi'): string[] {
  if (env.FACTORY_GPUS !== undefined) {
    return env.FACTORY_GPUS.includes(',') ? env.FACTORY_GPUS.split(',') : Array.from({ length: Number(env.FACTORY_GPUS) }, (_, i) => String(i));
  }
  try {
    const out = execFileSync(nvidiaSmi, ['--query-gpu=index', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l));
  } catch {
    return [];
  }
}

/**
 * One training per GPU: each takes a free device for its run and gives it
 * back after; the worker runs as many trainings at once as there are devices
 * (one on a host without any, where training runs on the CPUs).
 */
export class GpuSlots {
  private readonly free: string[];

  constructor(readonly devices: string[]) {
    this.free = [...devices];
  }

  /** Trainings this worker takes at once. */
  get concurrency(): number {
    return Math.max(1, this.devices.length);
  }

  /** A device for one training (undefined without GPUs); Temporal never gives the worker more trainings than concurrency. */
  acquire(): string | undefined {
    if (this.devices.length === 0) return undefined;
    const device = this.free.shift();
    if (device === undefined) throw new Error(`all ${this.devices.length} GPUs are taken; the worker was given more trainings than it has GPUs`);
    return device;
  }

  release(device: string | undefined): void {
    if (device !== undefined && !this.free.includes(device)) this.free.push(device);
  }
}
