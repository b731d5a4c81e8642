import type { TrainerSpec } from '../specs/model-spec';
import { decodeCheckpoint, encodeCheckpoint } from './gbdt/checkpoint';
import { gbdtToOnnx } from './gbdt/onnx';
import { objectiveOf } from './gbdt/objectives';
import { fitGbdt, predictGbdt, type GbdtParams } from './gbdt/train';
import { trainLinear } from './linear';
import type { TrainInput, TrainedModel, Trainer } from './trainer';

/** Checkpoint about every 25 trees: cheap to write, little work lost when a worker dies. */
const CHECKPOINT_EVERY = 25;

const trainGbdt: Trainer<GbdtParams> = ({ spec, params, train, validation, onProgress, resume, onCheckpoint }) => {
  const start = resume ? decodeCheckpoint(resume) : undefined;
  const model = fitGbdt(train, validation, params, {
    objective: objectiveOf(spec),
    categorical: spec.features.map((f) => f.type === 'category'),
    onProgress,
    resume: start,
    checkpointEvery: CHECKPOINT_EVERY,
    onCheckpoint: onCheckpoint && ((c) => onCheckpoint(encodeCheckpoint(c), c.trees.length)),
  });
  const nodes = model.trees.reduce((n, t) => n + t.feature.length, 0);
  return {
    onnx: gbdtToOnnx(model, spec.features, spec.name),
    predict: (d) => predictGbdt(model, d),
    metrics: {
      trees: model.trees.length,
      bestIteration: model.bestIteration,
      // The objective's own loss: log loss for classification, mean squared error or Poisson deviance for regression.
      [model.objective === 'logistic' || model.objective === 'softmax' ? 'validationLogLoss' : 'validationLoss']: model.validationLoss[model.bestIteration - 1] ?? Number.NaN,
      nodes,
      resumedFromTree: start?.trees.length ?? 0,
    },
    summary: { trees: model.trees.length, nodes, objective: model.objective, baseScores: model.baseScores },
  };
};

/** The one place a trainer kind maps to its implementation. */
export function runTrainer(input: TrainInput): TrainedModel {
  const params: TrainerSpec = input.params;
  switch (params.kind) {
    case 'logistic-regression':
      return trainLinear({ ...input, params: { ...params, kind: 'linear' } });
    case 'linear':
      return trainLinear({ ...input, params });
    case 'gbdt':
      return trainGbdt({ ...input, params });
    case 'command':
      throw new Error('the command trainer runs an external program; the training activity starts it, not this process');
  }
}
