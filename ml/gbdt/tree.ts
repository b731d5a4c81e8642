/** One regression tree in flat arrays; node 0 is the root. */
export interface Tree {
  /** Split feature, or -1 for a leaf. */
  feature: Int32Array;
  /** float32 threshold: value <= threshold goes left. */
  threshold: Float32Array;
  /** Highest bin that goes left (the binned twin of threshold). */
  bin: Uint8Array;
  /** 1 when missing values go left. */
  missingLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  /** float32 leaf output (learning rate applied). */
  value: Float32Array;
}

/** Raw score of one row given its float values (float32 comparisons, as ONNX Runtime does). */
export function scoreRow(t: Tree, x: Float64Array, base: number): number {
  let n = 0;
  while (t.feature[n] >= 0) {
    const v = x[base + t.feature[n]];
    const goLeft = Number.isNaN(v) ? t.missingLeft[n] === 1 : Math.fround(v) <= t.threshold[n];
    n = goLeft ? t.left[n] : t.right[n];
  }
  return t.value[n];
}

/** Raw score of one row given its bin codes (training-time traversal). */
export function scoreBinnedRow(t: Tree, codes: Uint8Array, base: number): number {
  let n = 0;
  while (t.feature[n] >= 0) {
    const b = codes[base + t.feature[n]];
    const goLeft = b === 0 ? t.missingLeft[n] === 1 : b <= t.bin[n];
    n = goLeft ? t.left[n] : t.right[n];
  }
  return t.value[n];
}
