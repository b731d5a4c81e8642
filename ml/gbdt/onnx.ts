import type { FeatureSpec } from '../../specs/model-spec';
import { encodedInputs } from '../onnx/inputs';
import { encodeModel, type OnnxNode } from '../onnx/model';
import { ONNX_OUTPUT, ONNX_PROBABILITIES, ONNX_VALUE } from '../trainer';
import type { GbdtModel } from './train';

/** What turns each objective's raw scores into the model's answer (ml/trainer.ts names the outputs). */
const HEADS: Record<GbdtModel['objective'], { op: string; output: string; attributes?: OnnxNode['attributes'] }> = {
  logistic: { op: 'Sigmoid', output: ONNX_OUTPUT },
  softmax: { op: 'Softmax', output: ONNX_PROBABILITIES, attributes: [{ name: 'axis', kind: 'int', value: 1 }] },
  'squared-error': { op: 'Identity', output: ONNX_VALUE },
  poisson: { op: 'Exp', output: ONNX_VALUE },
};

/**
 * ai.onnx.ml TreeEnsembleRegressor (opset 3) summing each output's trees onto
 * its base value, then the objective's head (sigmoid, softmax, identity or
 * exp). Thresholds and leaf values are float32 already, so ONNX Runtime takes
 * the branches the trainer took. String categories reach the trees as the
 * codes the trainer split on (ml/onnx/inputs.ts).
 */
export function gbdtToOnnx(model: Pick<GbdtModel, 'trees' | 'baseScores' | 'objective'>, features: FeatureSpec[], modelName: string): Uint8Array {
  const { trees, baseScores } = model;
  const outputs = baseScores.length;
  const head = HEADS[model.objective];
  const encoded = encodedInputs(features);
  const nodeTree: number[] = [];
  const nodeId: number[] = [];
  const nodeFeature: number[] = [];
  const nodeMode: string[] = [];
  const nodeValue: number[] = [];
  const nodeTrue: number[] = [];
  const nodeFalse: number[] = [];
  const nodeMissingTrue: number[] = [];
  const targetTree: number[] = [];
  const targetNode: number[] = [];
  const targetWeight: number[] = [];
  trees.forEach((t, ti) => {
    for (let n = 0; n < t.feature.length; n++) {
      const leaf = t.feature[n] < 0;
      nodeTree.push(ti);
      nodeId.push(n);
      nodeFeature.push(leaf ? 0 : encoded.position[t.feature[n]]);
      nodeMode.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      nodeValue.push(leaf ? 0 : t.threshold[n]);
      nodeTrue.push(leaf ? 0 : t.left[n]);
      nodeFalse.push(leaf ? 0 : t.right[n]);
      nodeMissingTrue.push(leaf ? 0 : t.missingLeft[n]);
      if (leaf) {
        targetTree.push(ti);
        targetNode.push(n);
        targetWeight.push(t.value[n]);
      }
    }
  });
  const ensemble: OnnxNode = {
    opType: 'TreeEnsembleRegressor',
    domain: 'ai.onnx.ml',
    name: 'trees',
    inputs: [encoded.output],
    outputs: ['logit'],
    attributes: [
      { name: 'n_targets', kind: 'int', value: outputs },
      { name: 'aggregate_function', kind: 'string', value: 'SUM' },
      { name: 'post_transform', kind: 'string', value: 'NONE' },
      { name: 'base_values', kind: 'floats', value: baseScores.map(Math.fround) },
      { name: 'nodes_treeids', kind: 'ints', value: nodeTree },
      { name: 'nodes_nodeids', kind: 'ints', value: nodeId },
      { name: 'nodes_featureids', kind: 'ints', value: nodeFeature },
      { name: 'nodes_modes', kind: 'strings', value: nodeMode },
      { name: 'nodes_values', kind: 'floats', value: nodeValue },
      { name: 'nodes_truenodeids', kind: 'ints', value: nodeTrue },
      { name: 'nodes_falsenodeids', kind: 'ints', value: nodeFalse },
      { name: 'nodes_missing_value_tracks_true', kind: 'ints', value: nodeMissingTrue },
      { name: 'target_treeids', kind: 'ints', value: targetTree },
      { name: 'target_nodeids', kind: 'ints', value: targetNode },
      { name: 'target_ids', kind: 'ints', value: targetTree.map((t) => t % outputs) },
      { name: 'target_weights', kind: 'floats', value: targetWeight },
    ],
  };
  return encodeModel({
    name: `${modelName}-gbdt`,
    opsets: { '': 13, 'ai.onnx.ml': 3 },
    docString: `Gradient-boosted trees (${trees.length}, ${model.objective}).`,
    metadata: { features: features.map((f) => f.name).join(','), trainer: 'gbdt', trees: String(trees.length) },
    inputs: encoded.inputs,
    outputs: [{ name: head.output, dims: ['N', outputs] }],
    initializers: encoded.initializers,
    nodes: [...encoded.nodes, ensemble, { opType: head.op, name: head.op.toLowerCase(), inputs: ['logit'], outputs: [head.output], attributes: head.attributes }],
  });
}
