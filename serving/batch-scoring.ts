import type { OnnxScorer } from '../ml/scoring';

/** One request's rows (features per row), to be scored beside others. */
export interface RowsPart {
  rows: Float32Array;
  count: number;
}

/**
 * Scores several requests' rows (total of them) in one ONNX Runtime call and
 * returns each one's scores, scorer.output.width numbers per row: views of the
 * run's output, not copies, as every run returns a fresh buffer. The call
 * starts before this returns its promise.
 */
export async function scoreTogether(scorer: OnnxScorer, features: number, parts: RowsPart[], total: number): Promise<Float32Array[]> {
  // One request: its own rows are the batch (ONNX Runtime only reads them).
  if (parts.length === 1) return [await scorer.score(parts[0].rows, total)];
  const x = new Float32Array(total * features);
  let offset = 0;
  for (const p of parts) {
    x.set(p.rows, offset * features);
    offset += p.count;
  }
  const scores = await scorer.score(x, total);
  const width = scorer.output.width;
  let at = 0;
  return parts.map((p) => scores.subarray(at * width, (at += p.count) * width));
}

/** Resolves once inFlight() is 0: every request (or copy) a scorer took has been answered. */
export async function drained(inFlight: () => number): Promise<void> {
  while (inFlight() > 0) await new Promise((r) => setTimeout(r, 5));
}
