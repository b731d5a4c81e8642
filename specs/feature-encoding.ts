import type { FeatureSpec } from './model-spec';

/**
 * How a feature's value becomes the number a trainer, the prediction log and
 * the drift monitor see. Numbers and integer categories are themselves. A
 * string category is its value's place in the spec's `values` (0, 1, …), a
 * value the spec does not list (`unknown: other`) is the code after the last
 * one, and a missing value is NaN everywhere. The ONNX graph does the same
 * mapping from the strings themselves (ml/onnx/inputs.ts), so a model scores
 * raw values without this code.
 */
export type FeatureValue = number | string;

export function isStringCategory(f: FeatureSpec): boolean {
  return f.type === 'category' && typeof f.values?.[0] === 'string';
}

/** The code of "not one of the listed values" of a string category. */
export function otherCode(f: FeatureSpec): number {
  return f.values!.length;
}

const codeTables = new WeakMap<FeatureSpec, Map<string, number>>();
function codesOf(f: FeatureSpec): Map<string, number> {
  let table = codeTables.get(f);
  if (!table) {
    table = new Map((f.values as string[]).map((v, i) => [v, i]));
    codeTables.set(f, table);
  }
  return table;
}

/** A value (as validated for the feature) as its number. */
export function encodeValue(f: FeatureSpec, v: FeatureValue): number {
  if (typeof v === 'number') return v;
  return codesOf(f).get(v) ?? otherCode(f);
}

/** Whether a value is one the feature lists; integer features without values accept any. */
export function isListed(f: FeatureSpec, v: FeatureValue): boolean {
  if (!f.values) return true;
  return typeof v === 'string' ? codesOf(f).has(v) : (f.values as number[]).includes(v);
}

/** The label a person reads for a code: the string for a string category, the number otherwise. */
export function valueName(f: FeatureSpec, code: number): string {
  if (!isStringCategory(f)) return String(code);
  if (Number.isNaN(code)) return '(missing)';
  return code === otherCode(f) ? '(other)' : String(f.values![code]);
}

/** The string a graph input takes for a string category's code: "" (missing) for NaN, no listed value for "other". */
export function codeToGraphString(f: FeatureSpec, code: number): string {
  if (Number.isNaN(code)) return '';
  return code < f.values!.length ? String(f.values![code]) : OTHER_MARKER;
}

/** Not a value a spec can list (those are trimmed), so the graph sends it to the "other" code. */
export const OTHER_MARKER = ' (other)';

/** The features as the ONNX graph takes them: numbers (integer categories included) in one input, string categories in another, each in spec order. */
export function graphColumns(features: FeatureSpec[]): { numeric: number[]; strings: number[] } {
  const numeric: number[] = [];
  const strings: number[] = [];
  features.forEach((f, j) => (isStringCategory(f) ? strings : numeric).push(j));
  return { numeric, strings };
}
