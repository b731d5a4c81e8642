import { ProtoWriter } from './protobuf';

/**
 * A small, typed description of an ONNX graph and its encoder. Field numbers
 * follow onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto, ValueInfoProto).
 */
export type Attribute =
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'string'; value: string }
  | { name: string; kind: 'floats'; value: ArrayLike<number> }
  | { name: string; kind: 'ints'; value: ArrayLike<number> }
  | { name: string; kind: 'strings'; value: string[] }
  /** A constant tensor as an attribute (ai.onnx.ml TreeEnsemble's splits, modes and weights). */
  | { name: string; kind: 'tensor'; value: { type: 'float' | 'uint8'; values: ArrayLike<number> } };

export interface OnnxNode {
  opType: string;
  domain?: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes?: Attribute[];
}

/** A constant: float unless it says int64 (indices, shapes). */
export interface Initializer {
  name: string;
  dims: number[];
  values: ArrayLike<number>;
  type?: 'float' | 'int64';
}

/** A tensor input or output, float unless it says string; a string in dims is a symbolic (batch) dimension. */
export interface ValueInfo {
  name: string;
  dims: (number | string)[];
  type?: 'float' | 'string';
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Initializer[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** domain → opset version; '' is the default ai.onnx domain. */
  opsets: Record<string, number>;
  docString?: string;
  metadata?: Record<string, string>;
}

const ELEMENT = { float: 1, int64: 7, string: 8 } as const;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const UINT8 = 2;
export const ONNX_IR_VERSION = 8;

function writeAttribute(w: ProtoWriter, a: Attribute): void {
  w.string(1, a.name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value).int(20, ATTR.FLOAT);
      break;
    case 'int':
      w.int(3, a.value).int(20, ATTR.INT);
      break;
    case 'string':
      w.string(4, a.value).int(20, ATTR.STRING);
      break;
    case 'floats':
      w.packedFloats(7, a.value).int(20, ATTR.FLOATS);
      break;
    case 'ints':
      w.packedInts(8, a.value).int(20, ATTR.INTS);
      break;
    case 'strings':
      for (const s of a.value) w.string(9, s);
      w.int(20, ATTR.STRINGS);
      break;
    case 'tensor':
      // A 1-D tensor: float data in float_data, uint8 (as every type narrower than 32 bits) in int32_data.
      w.message(5, (t) => {
        t.packedInts(1, [a.value.values.length]);
        t.int(2, a.value.type === 'float' ? ELEMENT.float : UINT8);
        if (a.value.type === 'float') t.packedFloats(4, a.value.values);
        else t.packedInts(5, a.value.values);
      });
      w.int(20, ATTR.TENSOR);
      break;
  }
}

export function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ELEMENT[v.type ?? 'float']);
      tensor.message(2, (shape) => {
        for (const d of v.dims) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

export function encodeModel(graph: OnnxGraph, producer = 'ai-factory'): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, ONNX_IR_VERSION);
  w.string(2, producer);
  w.string(3, '0.1.0');
  if (graph.docString) w.string(6, graph.docString);
  w.message(7, (g) => {
    for (const n of graph.nodes) {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        for (const o of n.outputs) node.string(2, o);
        node.string(3, n.name);
        node.string(4, n.opType);
        for (const a of n.attributes ?? []) node.message(5, (attr) => writeAttribute(attr, a));
        if (n.domain) node.string(7, n.domain);
      });
    }
    g.string(2, graph.name);
    for (const t of graph.initializers) {
      g.message(5, (tensor) => {
        tensor.packedInts(1, t.dims);
        tensor.int(2, ELEMENT[t.type ?? 'float']);
        tensor.string(8, t.name);
        if (t.type === 'int64') tensor.packedInts(7, t.values);
        else tensor.packedFloats(4, t.values);
      });
    }
    for (const i of graph.inputs) g.message(11, (v) => writeValueInfo(v, i));
    for (const o of graph.outputs) g.message(12, (v) => writeValueInfo(v, o));
  });
  for (const [domain, version] of Object.entries(graph.opsets)) {
    w.message(8, (op) => {
      if (domain) op.string(1, domain);
      op.int(2, version);
    });
  }
  for (const [key, value] of Object.entries(graph.metadata ?? {})) {
    w.message(14, (p) => p.string(1, key).string(2, value));
  }
  return w.finish();
}
