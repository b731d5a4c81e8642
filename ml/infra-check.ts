import type { FeatureSpec } from '../specs/model-spec';
import { OnnxScorer } from './scoring';

export type InfraCheck = { passed: true; reason: string; scorer: OnnxScorer } | { passed: false; reason: string };

/**
 * The factory's contract for a model's bytes, checked the same way by the
 * evaluation and by a rollout: they load in a new ONNX Runtime session, take
 * the spec's inputs (ml/trainer.ts) and answer each canary row with a probability. A passing
 * check hands over the loaded session; the caller releases it.
 */
export async function checkInfra(bytes: Uint8Array, spec: FeatureSpec[], canaries: Float32Array): Promise<InfraCheck> {
  const features = spec.length;
  let scorer: OnnxScorer;
  try {
    scorer = await OnnxScorer.load(bytes, spec);
  } catch (err) {
    return { passed: false, reason: `the model does not load in ONNX Runtime: ${(err as Error).message}` };
  }
  const rows = canaries.length / features;
  const scores = await scorer.score(canaries, rows).catch((err: Error) => err);
  const bad = scores instanceof Error ? -1 : Array.from(scores).findIndex((p) => !(p >= 0 && p <= 1));
  if (scores instanceof Error || scores.length !== rows || bad >= 0) {
    await scorer.release();
    const what = scores instanceof Error ? `failed: ${scores.message}` : `got ${scores.length} answers${bad >= 0 ? `, row ${bad} scored ${scores[bad]}, not a probability` : ''}`;
    return { passed: false, reason: `${rows} canary rows ${what}` };
  }
  return { passed: true, reason: `loads in a new session, takes the spec's ${features} features and answers ${rows} canary rows with probabilities`, scorer };
}
