import { otherCode, graphColumns } from '../../specs/feature-encoding';
import type { FeatureSpec } from '../../specs/model-spec';
import { ONNX_CATEGORIES, ONNX_ENCODED, ONNX_INPUT } from '../trainer';
import { frontValues } from './inputs';
import { writeValueInfo } from './model';
import { ProtoWriter } from './protobuf';

/** One field of a protobuf message, as read: its number, wire type, and for a length-delimited field its bytes, else its number. */
interface Field {
  field: number;
  wire: number;
  bytes?: Uint8Array;
  value?: number;
  /** The field's whole encoding, tag included, to copy as it is. */
  raw: Uint8Array;
}

/**
 * The same model reading codes instead of strings, or undefined when its
 * graph does not start as ours do. A graph made by ml/onnx/inputs.ts turns
 * each string category into its code in the graph itself (a Gather and a
 * LabelEncoder per column, then a Concat into "encoded"), so that any client
 * can send strings; the serving replica has the codes already (it reads
 * bodies against the spec), and turning them back into strings for ONNX
 * Runtime to turn into codes again costs a third of each run. This graph
 * drops that front and takes "encoded" ([N, F] floats, numeric columns first,
 * then the codes) as its input. The front is dropped only when every
 * LabelEncoder maps the spec's values to exactly the codes the spec gives
 * (specs/feature-encoding.ts), so a spec whose values changed since the model
 * was trained keeps the graph's own encoding.
 */
export function withCodesInput(model: Uint8Array, features: FeatureSpec[]): Uint8Array | undefined {
  if (graphColumns(features).strings.length === 0) return undefined;
  try {
    return rewritten(model, features);
  } catch {
    // Bytes that are not a model: ONNX Runtime says what is wrong with them when it loads them as they are.
    return undefined;
  }
}

function rewritten(model: Uint8Array, features: FeatureSpec[]): Uint8Array | undefined {
  const { numeric, strings } = graphColumns(features);
  const top = fields(model);
  const graphs = top.filter((f) => f.field === 7);
  if (graphs.length !== 1) return undefined;
  const graph = fields(graphs[0].bytes!);
  const front = new Set<Field>();
  const frontNames = new Set<string>();
  const outputsOf = new Map<string, { node: Field; opType: string; inputs: string[]; attributes: Field[][] }>();
  for (const node of graph.filter((f) => f.field === 1)) {
    const n = fields(node.bytes!);
    const opType = text(n.find((f) => f.field === 4));
    const inputs = n.filter((f) => f.field === 1).map(text);
    const attributes = n.filter((f) => f.field === 5).map((a) => fields(a.bytes!));
    for (const o of n.filter((f) => f.field === 2)) outputsOf.set(text(o), { node, opType, inputs, attributes });
  }
  const concat = outputsOf.get(ONNX_ENCODED);
  const expectedPieces = [...(numeric.length > 0 ? [ONNX_INPUT] : []), ...strings.map((_, k) => frontValues.code(k))];
  if (concat?.opType !== 'Concat' || concat.inputs.join('\n') !== expectedPieces.join('\n')) return undefined;
  front.add(concat.node);
  for (let k = 0; k < strings.length; k++) {
    const encoder = outputsOf.get(frontValues.code(k));
    const take = outputsOf.get(frontValues.raw(k));
    if (encoder?.opType !== 'LabelEncoder' || take?.opType !== 'Gather' || encoder.inputs[0] !== frontValues.raw(k) || take.inputs[0] !== ONNX_CATEGORIES) return undefined;
    if (!encodesAsSpec(encoder.attributes, features[strings[k]])) return undefined;
    front.add(encoder.node).add(take.node);
    frontNames.add(take.inputs[1]);
  }
  // Nothing but the front may read the raw inputs or the columns it takes.
  const dropped = new Set([ONNX_INPUT, ONNX_CATEGORIES, ...frontNames]);
  for (const { node, inputs } of outputsOf.values()) if (!front.has(node) && inputs.some((i) => dropped.has(i))) return undefined;

  const g = new ProtoWriter();
  for (const f of graph) {
    if (f.field === 1 && front.has(f)) continue;
    if (f.field === 5 && frontNames.has(text(fields(f.bytes!).find((t) => t.field === 8)))) continue;
    if (f.field === 11 && dropped.has(text(fields(f.bytes!).find((v) => v.field === 1)))) continue;
    g.raw(f.raw);
  }
  g.message(11, (v) => writeValueInfo(v, { name: ONNX_ENCODED, dims: ['N', features.length] }));
  const m = new ProtoWriter();
  for (const f of top) {
    if (f.field === 7) m.bytes(7, g.finish());
    else m.raw(f.raw);
  }
  return m.finish();
}

/** Whether a LabelEncoder maps the feature's values to 0, 1, …, "" to NaN (missing) and anything else to the "other" code. */
function encodesAsSpec(attributes: Field[][], f: FeatureSpec): boolean {
  const byName = new Map(attributes.map((a) => [text(a.find((x) => x.field === 1)), a]));
  const keys = byName.get('keys_strings')?.filter((x) => x.field === 9).map(text);
  const values = floatsOf(byName.get('values_floats'));
  const fallback = byName.get('default_float')?.find((x) => x.field === 2)?.value;
  const listed = f.values as string[];
  if (!keys || !values || keys.length !== listed.length + 1 || values.length !== keys.length) return false;
  for (let i = 0; i < listed.length; i++) if (keys[i] !== listed[i] || values[i] !== i) return false;
  return keys[listed.length] === '' && Number.isNaN(values[listed.length]) && fallback === otherCode(f);
}

/** A floats attribute's values, packed or not. */
function floatsOf(attribute: Field[] | undefined): number[] | undefined {
  if (!attribute) return undefined;
  const out: number[] = [];
  for (const x of attribute.filter((a) => a.field === 7)) {
    if (x.wire === 5) out.push(x.value!);
    else {
      const view = new DataView(x.bytes!.buffer, x.bytes!.byteOffset, x.bytes!.byteLength);
      for (let i = 0; i + 4 <= x.bytes!.byteLength; i += 4) out.push(view.getFloat32(i, true));
    }
  }
  return out;
}

const text = (f: Field | undefined) => (f?.bytes ? Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength).toString('utf8') : '');

/** A message's fields in order; throws on bytes that are not a protobuf message. */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = () => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (at >= buf.length) throw new Error('truncated varint');
      const b = buf[at++];
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return v;
      scale *= 128;
    }
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (at < buf.length) {
    const start = at;
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    let f: Omit<Field, 'raw'>;
    if (wire === 0) f = { field, wire, value: varint() };
    else if (wire === 1) {
      f = { field, wire, value: view.getFloat64(at, true) };
      at += 8;
    } else if (wire === 5) {
      f = { field, wire, value: view.getFloat32(at, true) };
      at += 4;
    } else if (wire === 2) {
      const n = varint();
      if (at + n > buf.length) throw new Error('truncated field');
      f = { field, wire, bytes: buf.subarray(at, at + n) };
      at += n;
    } else throw new Error(`unknown wire type ${wire}`);
    if (at > buf.length) throw new Error('truncated field');
    out.push({ ...f, raw: buf.subarray(start, at) });
  }
  return out;
}
