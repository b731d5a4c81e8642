import type { Dataset } from './dataset';
import { checkInfra } from './infra-check';
import type { ScoredSpec } from './scoring';

export interface InferenceProfile {
  latencyP50Ms: number;
  latencyP99Ms: number;
  throughputRowsPerS: number;
  inferenceCpuMsPer1k: number;
  infra: { passed: boolean; reason: string };
}

const SINGLE_ROW_RUNS = 300;
const BATCH = 1000;
const BATCH_RUNS = 10;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * The infra check (ml/infra-check.ts) on the first rows, then batch-1 latency
 * and batch-1000 throughput in the session it loaded.
 */
export async function profileInference(bytes: Uint8Array, spec: ScoredSpec, data: Dataset): Promise<InferenceProfile> {
  const canaries = Math.min(5, data.rows);
  const infra = await checkInfra(bytes, spec, Float32Array.from(data.x.subarray(0, canaries * data.features)));
  if (!infra.passed) return { latencyP50Ms: NaN, latencyP99Ms: NaN, throughputRowsPerS: NaN, inferenceCpuMsPer1k: NaN, infra };
  const { scorer } = infra;
  try {
    const rows = Array.from({ length: Math.min(data.rows, 100) }, (_, r) => Float32Array.from(data.x.subarray(r * data.features, (r + 1) * data.features)));
    for (let i = 0; i < 20; i++) await scorer.score(rows[i % rows.length], 1);
    const latencies: number[] = [];
    for (let i = 0; i < SINGLE_ROW_RUNS; i++) {
      const t = process.hrtime.bigint();
      await scorer.score(rows[i % rows.length], 1);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    latencies.sort((a, b) => a - b);
    const n = Math.min(BATCH, data.rows);
    const batch = Float32Array.from(data.x.subarray(0, n * data.features));
    await scorer.score(batch, n);
    const cpu = process.cpuUsage();
    const t = process.hrtime.bigint();
    for (let i = 0; i < BATCH_RUNS; i++) await scorer.score(batch, n);
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const used = process.cpuUsage(cpu);
    return {
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
      throughputRowsPerS: (n * BATCH_RUNS) / seconds,
      inferenceCpuMsPer1k: ((used.user + used.system) / 1000 / (n * BATCH_RUNS)) * 1000,
      infra: { passed: true, reason: infra.reason },
    };
  } finally {
    await scorer.release();
  }
}
