import type { ModelSpec, TrainerSpec } from '../specs/model-spec';
import type { Dataset } from './dataset';

export interface TrainProgress {
  step: number;
  total: number;
  message: string;
  metrics?: Record<string, number>;
}

export interface TrainedModel {
  onnx: Uint8Array;
  /** The trainer's own predictions, the reference the ONNX export must reproduce. */
  predict(data: Dataset): Float64Array;
  metrics: Record<string, number>;
  summary: Record<string, unknown>;
}

export interface TrainInput<S extends TrainerSpec = TrainerSpec> {
  spec: ModelSpec;
  params: S;
  train: Dataset;
  validation: Dataset;
  onProgress: (p: TrainProgress) => void;
  /** A checkpoint this trainer wrote earlier in the same job, to carry on from. */
  resume?: string;
  /** Called with a checkpoint now and then, for trainers that take long enough to need one. */
  onCheckpoint?: (checkpoint: string, step: number) => void;
}

/**
 * Every trainer turns a split dataset into a self-contained ONNX model: input
 * "features" float [N, numbers] (numeric features and integer categories, in
 * spec order) and, where the spec has string categories, "categories" string
 * [N, strings] (those, in spec order, "" where missing), which the graph
 * encodes itself (ml/onnx/inputs.ts); output "probability" [N,1].
 */
export type Trainer<S extends TrainerSpec = TrainerSpec> = (input: TrainInput<S>) => TrainedModel;

export const ONNX_INPUT = 'features';
export const ONNX_CATEGORIES = 'categories';
export const ONNX_OUTPUT = 'probability';
