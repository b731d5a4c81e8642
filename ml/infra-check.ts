import { OnnxScorer, type ScoredSpec } from './scoring';

export type InfraCheck = { passed: true; reason: string; scorer: OnnxScorer } | { passed: false; reason: string };

/**
 * The factory's contract for a model's bytes, checked the same way by the
 * evaluation and by a rollout: they load in a new ONNX Runtime session, take
 * the spec's inputs (ml/trainer.ts) and answer each canary row with a probability. A passing
 * check hands over the loaded session; the caller releases it.
 */
export async function checkInfra(bytes: Uint8Array, spec: ScoredSpec, canaries: Float32Array): Promise<InfraCheck> {
  const features = spec.features.length;
  let scorer: OnnxScorer;
  try {
    scorer = await OnnxScorer.load(bytes, spec);
  } catch (err) {
    return { passed: false, reason: `the model does not load in ONNX Runtime: ${(err as Error).message}` };
  }
  const rows = canaries.length / features;
  const { width } = scorer.output;
  const scores = await scorer.score(canaries, rows).catch((err: Error) => err);
  // A probability per row (binary), probabilities that sum to 1 (multiclass), or a finite value (regression).
  const valid = (i: number, s: Float32Array) => {
    if (spec.task === 'regression') return Number.isFinite(s[i]);
    let sum = 0;
    for (let k = 0; k < width; k++) {
      const p = s[i * width + k];
      if (!(p >= 0 && p <= 1)) return false;
      sum += p;
    }
    return width === 1 || Math.abs(sum - 1) < 1e-4;
  };
  const answer = spec.task === 'regression' ? 'a finite value' : width > 1 ? `${width} class probabilities summing to 1` : 'a probability';
  const bad = scores instanceof Error ? -1 : Array.from({ length: rows }, (_, i) => i).findIndex((i) => !valid(i, scores));
  if (scores instanceof Error || scores.length !== rows * width || bad >= 0) {
    await scorer.release();
    const what = scores instanceof Error ? `failed: ${scores.message}` : `got ${scores.length} numbers for ${rows} rows${bad >= 0 ? `, row ${bad} scored ${Array.from(scores.subarray(bad * width, (bad + 1) * width))}, not ${answer}` : ''}`;
    return { passed: false, reason: `${rows} canary rows ${what}` };
  }
  return { passed: true, reason: `loads in a new session, takes the spec's ${features} features and answers ${rows} canary rows with ${answer} each`, scorer };
}
