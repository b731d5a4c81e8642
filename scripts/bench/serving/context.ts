import type { BatchRow } from '../../../specs/data-batch';
import type { ModelSpec } from '../../../specs/model-spec';
import type { Rollouts } from '../kit/rollout';
import type { StackFixture } from '../kit/stack-fixture';

/** What every part of the serving benchmark is given by the entry point (scripts/bench/serving.ts). */
export interface ServingBench {
  options: { seconds: number; connections: number; rounds: number; swaps: number; rate: number };
  spec: ModelSpec;
  fixture: StackFixture;
  /** The champion's ONNX model. */
  onnx: Uint8Array;
  /** The held-out rows every request carries, one per request, in turn. */
  rows: BatchRow[];
  /** Their request bodies. */
  bodies: string[];
  modelId: number;
  rollouts: Rollouts;
  /** The service's default batching (SERVING_MAX_BATCH, SERVING_MAX_DELAY_MS), as env for a replica. */
  batching: Record<string, string>;
}
