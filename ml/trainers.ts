import type { TrainerSpec } from '../specs/model-spec';
import { trainLogisticRegression } from './logistic-regression';
import type { TrainInput, TrainedModel } from './trainer';

/** The one place a trainer kind maps to its implementation. */
export function runTrainer(input: TrainInput): TrainedModel {
  const params: TrainerSpec = input.params;
  switch (params.kind) {
    case 'logistic-regression':
      return trainLogisticRegression({ ...input, params });
  }
}
