import type { FeatureSpec } from '../../specs/model-spec';
import { encodedInputs, type EncodedInputs } from '../onnx/inputs';
import { encodeModel, type Initializer, type OnnxNode } from '../onnx/model';
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
  if (model.trees.some((t) => t.setStart.some((s) => s >= 0))) return withCategorySets(model, features, modelName);
  const { trees, baseScores } = model;
  const outputs = baseScores.length;
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
  return treeGraph(model, features, modelName, encoded, 3, `Gradient-boosted trees (${trees.length}, ${model.objective}).`, [ensemble], []);
}

/** ai.onnx.ml TreeEnsemble's node modes (opset 5). */
const BRANCH_LEQ = 0;
const BRANCH_MEMBER = 6;

/**
 * Trees with categorical splits, as ai.onnx.ml TreeEnsemble (opset 5): its
 * BRANCH_MEMBER nodes test a value against a set (membership_values, the
 * sets one after another, each ended by NaN), which TreeEnsembleRegressor
 * cannot. Interior nodes and leaves are numbered apart; a tree that is a
 * single leaf gets a node whose two branches both lead to it. TreeEnsemble
 * has no base values, so they are added after it, as the trainer adds them
 * after summing the trees.
 */
function withCategorySets(model: Pick<GbdtModel, 'trees' | 'baseScores' | 'objective'>, features: FeatureSpec[], modelName: string): Uint8Array {
  const { trees, baseScores } = model;
  const outputs = baseScores.length;
  const encoded = encodedInputs(features);
  const featureIds: number[] = [];
  const modes: number[] = [];
  const splits: number[] = [];
  const trueIds: number[] = [];
  const trueLeafs: number[] = [];
  const falseIds: number[] = [];
  const falseLeafs: number[] = [];
  const missingTrue: number[] = [];
  const members: number[] = [];
  const roots: number[] = [];
  const leafTargets: number[] = [];
  const leafWeights: number[] = [];
  trees.forEach((t, ti) => {
    // Our node ids to theirs: interior nodes and leaves in two lists.
    const index = new Int32Array(t.feature.length);
    let interior = featureIds.length;
    for (let n = 0; n < t.feature.length; n++) {
      if (t.feature[n] < 0) {
        index[n] = leafWeights.length;
        leafWeights.push(t.value[n]);
        leafTargets.push(ti % outputs);
      } else index[n] = interior++;
    }
    roots.push(featureIds.length);
    if (t.feature[0] < 0) {
      featureIds.push(0);
      modes.push(BRANCH_LEQ);
      splits.push(0);
      trueIds.push(index[0]);
      trueLeafs.push(1);
      falseIds.push(index[0]);
      falseLeafs.push(1);
      missingTrue.push(0);
      return;
    }
    for (let n = 0; n < t.feature.length; n++) {
      if (t.feature[n] < 0) continue;
      const set = t.setStart[n];
      featureIds.push(encoded.position[t.feature[n]]);
      modes.push(set >= 0 ? BRANCH_MEMBER : BRANCH_LEQ);
      splits.push(set >= 0 ? 0 : t.threshold[n]);
      if (set >= 0) members.push(...t.setValues.subarray(set, set + t.setSize[n]), Number.NaN);
      const [l, r] = [t.left[n], t.right[n]];
      trueIds.push(index[l]);
      trueLeafs.push(t.feature[l] < 0 ? 1 : 0);
      falseIds.push(index[r]);
      falseLeafs.push(t.feature[r] < 0 ? 1 : 0);
      missingTrue.push(t.missingLeft[n]);
    }
  });
  const ensemble: OnnxNode = {
    opType: 'TreeEnsemble',
    domain: 'ai.onnx.ml',
    name: 'trees',
    inputs: [encoded.output],
    outputs: ['sums'],
    attributes: [
      { name: 'n_targets', kind: 'int', value: outputs },
      { name: 'aggregate_function', kind: 'int', value: 1 },
      { name: 'post_transform', kind: 'int', value: 0 },
      { name: 'tree_roots', kind: 'ints', value: roots },
      { name: 'nodes_featureids', kind: 'ints', value: featureIds },
      { name: 'nodes_modes', kind: 'tensor', value: { type: 'uint8', values: modes } },
      { name: 'nodes_splits', kind: 'tensor', value: { type: 'float', values: splits } },
      { name: 'nodes_truenodeids', kind: 'ints', value: trueIds },
      { name: 'nodes_trueleafs', kind: 'ints', value: trueLeafs },
      { name: 'nodes_falsenodeids', kind: 'ints', value: falseIds },
      { name: 'nodes_falseleafs', kind: 'ints', value: falseLeafs },
      { name: 'nodes_missing_value_tracks_true', kind: 'ints', value: missingTrue },
      { name: 'membership_values', kind: 'tensor', value: { type: 'float', values: members } },
      { name: 'leaf_targetids', kind: 'ints', value: leafTargets },
      { name: 'leaf_weights', kind: 'tensor', value: { type: 'float', values: leafWeights } },
    ],
  };
  return treeGraph(
    model,
    features,
    modelName,
    encoded,
    5,
    `Gradient-boosted trees (${trees.length}, ${model.objective}) with categorical splits.`,
    [ensemble, { opType: 'Add', name: 'add_base', inputs: ['sums', 'base_values'], outputs: ['logit'] }],
    [{ name: 'base_values', dims: [outputs], values: baseScores.map(Math.fround) }],
  );
}

/** The model around a tree ensemble whose nodes end in "logit": the encoded inputs before it, the objective's head after it. */
function treeGraph(
  model: Pick<GbdtModel, 'trees' | 'baseScores' | 'objective'>,
  features: FeatureSpec[],
  modelName: string,
  encoded: EncodedInputs,
  mlOpset: 3 | 5,
  docString: string,
  trees: OnnxNode[],
  initializers: Initializer[],
): Uint8Array {
  const head = HEADS[model.objective];
  return encodeModel({
    name: `${modelName}-gbdt`,
    opsets: { '': 13, 'ai.onnx.ml': mlOpset },
    docString,
    metadata: { features: features.map((f) => f.name).join(','), trainer: 'gbdt', trees: String(model.trees.length) },
    inputs: encoded.inputs,
    outputs: [{ name: head.output, dims: ['N', model.baseScores.length] }],
    initializers: [...encoded.initializers, ...initializers],
    nodes: [...encoded.nodes, ...trees, { opType: head.op, name: head.op.toLowerCase(), inputs: ['logit'], outputs: [head.output], attributes: head.attributes }],
  });
}
