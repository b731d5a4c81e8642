import type { GbdtCheckpoint } from './train';
import type { Tree } from './tree';

/** Checkpoints as JSON: typed arrays become plain arrays, and come back as the same types. */
export function encodeCheckpoint(c: GbdtCheckpoint): string {
  const plain = (t: Tree) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Array.from(v as ArrayLike<number>)]));
  return JSON.stringify({ version: 2, baseScores: c.baseScores, validationLoss: c.validationLoss, trees: c.trees.map(plain) });
}

export function decodeCheckpoint(json: string): GbdtCheckpoint {
  const raw = JSON.parse(json) as { version: number; baseScore?: number; baseScores?: number[]; validationLoss: number[]; trees: (Record<Exclude<keyof Tree, 'setStart' | 'setSize' | 'setBins' | 'setValues'>, number[]> & Partial<Record<'setStart' | 'setSize' | 'setBins' | 'setValues', number[]>>)[] };
  if (raw.version !== 1 && raw.version !== 2) throw new Error(`unknown checkpoint format ${raw.version}`);
  return {
    // Version 1 (binary only) was written by workers before multi-output objectives; a job it belongs to may resume on a newer one.
    baseScores: raw.baseScores ?? [raw.baseScore!],
    validationLoss: raw.validationLoss.map((v) => (v === null ? Number.NaN : v)),
    trees: raw.trees.map((t) => ({
      feature: Int32Array.from(t.feature),
      threshold: Float32Array.from(t.threshold),
      bin: Uint8Array.from(t.bin),
      missingLeft: Uint8Array.from(t.missingLeft),
      left: Int32Array.from(t.left),
      right: Int32Array.from(t.right),
      value: Float32Array.from(t.value),
      // Checkpoints from before categorical splits have no sets: every node is a threshold split or a leaf.
      setStart: t.setStart ? Int32Array.from(t.setStart) : new Int32Array(t.feature.length).fill(-1),
      setSize: t.setSize ? Int32Array.from(t.setSize) : new Int32Array(t.feature.length),
      setBins: Uint8Array.from(t.setBins ?? []),
      setValues: Float32Array.from(t.setValues ?? []),
    })),
  };
}
