import { graphColumns, otherCode } from '../../specs/feature-encoding';
import type { FeatureSpec } from '../../specs/model-spec';
import { ONNX_CATEGORIES, ONNX_ENCODED, ONNX_INPUT } from '../trainer';
import type { Initializer, OnnxNode, ValueInfo } from './model';

/** The front of every exported graph: the raw inputs, and one float matrix of encoded features for the model to read. */
export interface EncodedInputs {
  inputs: ValueInfo[];
  nodes: OnnxNode[];
  initializers: Initializer[];
  /** The float [N, F] tensor the model reads... */
  output: string;
  /** ...in which spec feature j is column position[j]. */
  position: number[];
}

/** The spec's columns in the order of "encoded": numeric ones first, then string categories, each in spec order. */
export function encodedOrder(features: FeatureSpec[]): number[] {
  const { numeric, strings } = graphColumns(features);
  return [...numeric, ...strings];
}

/** The values of the front's string column k: its index, its strings, its codes. */
export const frontValues = {
  column: (k: number) => `column_${k}`,
  raw: (k: number) => `raw_${k}`,
  code: (k: number) => `code_${k}`,
};

/**
 * Makes the graph self-contained: each string category column is taken out of
 * the "categories" input (Gather) and mapped to its code by an ai.onnx.ml
 * LabelEncoder, the same codes specs/feature-encoding.ts gives ("" is missing,
 * NaN; a value the spec does not list is the "other" code), and the codes are
 * appended to the numeric input. A spec without string categories reads
 * "features" as it is, as models did before string categories existed.
 */
export function encodedInputs(features: FeatureSpec[]): EncodedInputs {
  const { numeric, strings } = graphColumns(features);
  const position = new Array<number>(features.length);
  encodedOrder(features).forEach((j, k) => (position[j] = k));
  const numericInput: ValueInfo = { name: ONNX_INPUT, dims: ['N', numeric.length] };
  if (strings.length === 0) return { inputs: [numericInput], nodes: [], initializers: [], output: ONNX_INPUT, position };

  const nodes: OnnxNode[] = [];
  const initializers: Initializer[] = [];
  const pieces = numeric.length > 0 ? [ONNX_INPUT] : [];
  strings.forEach((j, k) => {
    const f = features[j];
    const values = f.values as string[];
    initializers.push({ name: frontValues.column(k), dims: [1], values: [k], type: 'int64' });
    nodes.push({ opType: 'Gather', name: `take_${k}`, inputs: [ONNX_CATEGORIES, frontValues.column(k)], outputs: [frontValues.raw(k)], attributes: [{ name: 'axis', kind: 'int', value: 1 }] });
    nodes.push({
      opType: 'LabelEncoder',
      domain: 'ai.onnx.ml',
      name: `encode_${f.name}`,
      inputs: [frontValues.raw(k)],
      outputs: [frontValues.code(k)],
      attributes: [
        { name: 'keys_strings', kind: 'strings', value: [...values, ''] },
        { name: 'values_floats', kind: 'floats', value: [...values.map((_, i) => i), Number.NaN] },
        { name: 'default_float', kind: 'float', value: otherCode(f) },
      ],
    });
    pieces.push(frontValues.code(k));
  });
  nodes.push({ opType: 'Concat', name: 'encoded_features', inputs: pieces, outputs: [ONNX_ENCODED], attributes: [{ name: 'axis', kind: 'int', value: 1 }] });
  const inputs = [...(numeric.length > 0 ? [numericInput] : []), { name: ONNX_CATEGORIES, dims: ['N', strings.length], type: 'string' as const }];
  return { inputs, nodes, initializers, output: ONNX_ENCODED, position };
}
