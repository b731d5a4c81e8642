import type { ModelSpec, TrainerSpec } from '../specs/model-spec';
import { labelClasses } from '../specs/label';
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
 * encodes itself (ml/onnx/inputs.ts). Its output is the task's answer
 * (modelOutput): "probability" [N,1] of the positive class, "probabilities"
 * [N,classes] in label.classes order, or "value" [N,1].
 */
export type Trainer<S extends TrainerSpec = TrainerSpec> = (input: TrainInput<S>) => TrainedModel;

export const ONNX_INPUT = 'features';
export const ONNX_CATEGORIES = 'categories';
/** Inside the graph: every feature as the model reads it, numeric columns first, then string categories' codes (ml/onnx/inputs.ts). */
export const ONNX_ENCODED = 'encoded';
export const ONNX_OUTPUT = 'probability';
export const ONNX_PROBABILITIES = 'probabilities';
export const ONNX_VALUE = 'value';

/** The output a model of this task must have, and how many numbers it gives per row. */
export function modelOutput(spec: Partial<Pick<ModelSpec, 'task' | 'label'>>): { name: string; width: number } {
  if (spec.task === 'regression') return { name: ONNX_VALUE, width: 1 };
  if (spec.task === 'multiclass-classification') return { name: ONNX_PROBABILITIES, width: labelClasses(spec as Pick<ModelSpec, 'label'>)!.length };
  return { name: ONNX_OUTPUT, width: 1 };
}
