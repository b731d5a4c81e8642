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
  /**
   * Categorical splits: per node, where its set starts in setBins/setValues
   * (-1 for a threshold split or a leaf), and how many members it has. A row
   * whose value is in the set goes left; any other value (one never seen in
   * training included) goes right; a missing one as missingLeft says.
   */
  setStart: Int32Array;
  setSize: Int32Array;
  /** The sets' members as bins (training-time traversal) and as float32 values (prediction), concatenated. */
  setBins: Uint8Array;
  setValues: Float32Array;
}

function inSet(members: ArrayLike<number>, start: number, size: number, v: number): boolean {
  for (let k = start; k < start + size; k++) if (members[k] === v) return true;
  return false;
}

/** Raw score of one row given its float values (float32 comparisons, as ONNX Runtime does). */
export function scoreRow(t: Tree, x: Float64Array, base: number): number {
  let n = 0;
  while (t.feature[n] >= 0) {
    const v = x[base + t.feature[n]];
    const s = t.setStart[n];
    const goLeft = Number.isNaN(v) ? t.missingLeft[n] === 1 : s >= 0 ? inSet(t.setValues, s, t.setSize[n], Math.fround(v)) : Math.fround(v) <= t.threshold[n];
    n = goLeft ? t.left[n] : t.right[n];
  }
  return t.value[n];
}

/** Raw score of one row given its bin codes (training-time traversal). */
export function scoreBinnedRow(t: Tree, codes: Uint8Array, base: number): number {
  let n = 0;
  while (t.feature[n] >= 0) {
    const b = codes[base + t.feature[n]];
    const s = t.setStart[n];
    const goLeft = b === 0 ? t.missingLeft[n] === 1 : s >= 0 ? inSet(t.setBins, s, t.setSize[n], b) : b <= t.bin[n];
    n = goLeft ? t.left[n] : t.right[n];
  }
  return t.value[n];
}
