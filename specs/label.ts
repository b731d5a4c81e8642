import type { LabelSpec, ModelSpec } from './model-spec';

// What a spec's label says, for code that must not load the schema library
// (the trainer's process): the types come from model-spec.ts, erased at run time.

/** The classes of a multiclass label, in their fixed order; its class k is the model's output k. */
export function labelClasses(spec: Pick<ModelSpec, 'label'>): (string | number)[] | undefined {
  return typeof spec.label === 'string' ? undefined : spec.label.classes;
}

/** The regression objective: squared error unless the label says poisson. */
export function regressionObjective(spec: Pick<ModelSpec, 'label'>): 'squared-error' | 'poisson' {
  return (typeof spec.label === 'string' ? undefined : spec.label.objective) ?? 'squared-error';
}

/** The column that holds the label, in either form of `label`: every reader of the label column asks here. */
export function labelColumn(spec: { label: LabelSpec }): string {
  return typeof spec.label === 'string' ? spec.label : spec.label.column;
}
