import { randomUUID } from 'node:crypto';
import { logger } from '../config/logger';
import { labelClasses } from '../specs/label';
import { latencyObserved, requestsCounted, servingMetrics } from './metrics';
import { loggedScores, predictions, readBody, type BodyRows } from './predict-body';
import type { PredictionLog } from './prediction-log';
import type { LoadedVersion, ServedModels } from './served-models';

/** A prediction request's answer, whichever HTTP stack carried it: the status, the JSON body, and for a scored request the headers naming its version and id. */
export interface PredictAnswer {
  code: number;
  body: unknown;
  headers?: { 'x-model-version': string; 'x-request-id': string };
}

export type Predict = (model: string, authorization: string | undefined, body: unknown) => Promise<PredictAnswer>;

const UNKNOWN_MODEL = '(not served)';

/**
 * The prediction route's work, from a parsed body to its answer: the champion
 * answers, or during a canary the candidate its share; during a shadow phase
 * the candidate scores a copy of a sampled share of requests after the answer
 * has gone, when the champion is idle. Every scoring goes to the prediction
 * log, which the rollout guard and drift monitor read.
 */
export function predictor(models: Pick<ServedModels, 'get' | 'serving'>, log: Pick<PredictionLog, 'record'>, authorised: (header: string | undefined) => boolean): Predict {
  const counted = (model: string, code: number, version = 'none', role = 'none') => requestsCounted(model, version, role, String(code)).inc();

  /** Scores with one version and logs it; undefined when scoring failed (logged, and said in the log). */
  async function score(v: LoadedVersion, role: 'champion' | 'canary', model: string, requestId: string, read: BodyRows): Promise<Float32Array | undefined> {
    const t0 = performance.now();
    const at = Date.now();
    const { rows, x, ids, times } = read;
    try {
      const scores = await v.batcher.score(x, rows);
      log.record({ at, model, version: v.version, role, requestId, latencyMs: performance.now() - t0, ok: true, rows, features: x, ids, times, scores: loggedScores(scores, v.scorer.output.width) });
      return scores;
    } catch (err) {
      log.record({ at, model, version: v.version, role, requestId, latencyMs: performance.now() - t0, ok: false, rows, features: x, ids, times });
      logger.error({ err, model, version: v.version, role }, 'scoring failed');
      return undefined;
    }
  }

  return async (model, authorization, body) => {
    const started = performance.now();
    const served = models.get(model);
    // A name from the URL is a label only when it is a served model: any other would grow the metrics without bound.
    const label = served ? model : UNKNOWN_MODEL;
    if (!authorised(authorization)) {
      counted(label, 401);
      return { code: 401, body: { error: 'missing or wrong bearer token' } };
    }
    if (!served) {
      counted(label, 404);
      return { code: 404, body: { error: `no champion is served for model "${model}"`, models: Object.keys(models.serving()) } };
    }
    const { spec, champion, candidate, rollout } = served;
    const read = readBody(body, spec);
    if (typeof read === 'string') {
      counted(model, 400);
      return { code: 400, body: { error: read } };
    }
    const requestId = randomUUID();
    const canary = rollout?.phase === 'canary' && candidate && Math.random() * 100 < rollout.canaryPercent;
    let answered: LoadedVersion = canary ? candidate : champion;
    let role: 'champion' | 'canary' = canary ? 'canary' : 'champion';
    let scores = await score(answered, role, model, requestId, read);
    if (!scores && canary) {
      // A failing canary is the candidate's fault, and its record says so; the client still gets the champion's answer.
      [answered, role] = [champion, 'champion'];
      scores = await score(champion, 'champion', model, requestId, read);
    }
    const version = String(answered.version);
    if (!scores) {
      counted(model, 500, version, role);
      return { code: 500, body: { error: `scoring failed for ${model} v${answered.version}`, requestId } };
    }
    if (rollout?.phase === 'shadow' && candidate && Math.random() < spec.rollout.shadowSample) shadowCopy(candidate, model, requestId, read);
    latencyObserved(model, version, role).observe((performance.now() - started) / 1000);
    counted(model, 200, version, role);
    return {
      code: 200,
      body: { model, version: answered.version, predictions: predictions(scores, labelClasses(spec)), requestId },
      headers: { 'x-model-version': version, 'x-request-id': requestId },
    };
  };

  /** Hands the candidate a copy of an answered request, which it scores when the champion is idle (serving/shadow-scorer.ts). */
  function shadowCopy(candidate: LoadedVersion, model: string, requestId: string, read: BodyRows): void {
    const at = Date.now();
    const { rows, x, ids, times } = read;
    const taken = candidate.shadow.offer(x, rows, ({ scores, error, latencyMs }) => {
      const base = { at, model, version: candidate.version, role: 'shadow' as const, requestId, latencyMs, rows, features: x, ids, times };
      if (scores) return log.record({ ...base, ok: true, scores: loggedScores(scores, candidate.scorer.output.width) });
      log.record({ ...base, ok: false });
      logger.error({ err: error, model, version: candidate.version, role: 'shadow' }, 'scoring failed');
    });
    if (!taken) servingMetrics.shadowDropped.inc({ model });
  }
}
