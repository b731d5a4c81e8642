import type { Dataset } from './dataset';
import { OnnxScorer } from './scoring';

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
 * Loads the model in a fresh ONNX Runtime session (infra validation: it loads,
 * honours the factory's input/output contract and answers canary rows with
 * probabilities), then measures batch-1 latency and batch-1000 throughput.
 */
export async function profileInference(bytes: Uint8Array, data: Dataset): Promise<InferenceProfile> {
  let scorer: OnnxScorer;
  try {
    scorer = await OnnxScorer.load(bytes, data.features);
  } catch (err) {
    return { latencyP50Ms: NaN, latencyP99Ms: NaN, throughputRowsPerS: NaN, inferenceCpuMsPer1k: NaN, infra: { passed: false, reason: `the model does not load: ${(err as Error).message}` } };
  }
  try {
    const canaries = Math.min(5, data.rows);
    const out = await scorer.score(Float32Array.from(data.x.subarray(0, canaries * data.features)), canaries);
    const bad = Array.from(out).find((p) => !(p >= 0 && p <= 1));
    if (out.length !== canaries || bad !== undefined) {
      return { latencyP50Ms: NaN, latencyP99Ms: NaN, throughputRowsPerS: NaN, inferenceCpuMsPer1k: NaN, infra: { passed: false, reason: `canary rows got ${out.length} answers for ${canaries} rows${bad !== undefined ? `, one of them ${bad}, not a probability` : ''}` } };
    }
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
      infra: { passed: true, reason: `loads in a new session, takes "features" [N, ${data.features}] and answers ${canaries} canary rows with probabilities` },
    };
  } finally {
    await scorer.release();
  }
}
