import { randomUUID } from 'node:crypto';
import { PredictionLog } from '../../serving/prediction-log';
import { ctx, uniqueName } from './helpers';

describe('the prediction log', () => {
  test('writes every row as it was recorded (binary COPY): features with missing values, failed scorings, ids, times', async () => {
    const model = uniqueName('log-é');
    await ctx(async ({ db }) => {
      const log = new PredictionLog(db, 'replica-ü:1', 1_000);
      const ok = { at: Date.UTC(2026, 11, 3, 14, 0, 0, 123), model, version: 7, role: 'shadow' as const, requestId: randomUUID(), latencyMs: 1.25, ok: true, rows: 2 };
      log.record({ ...ok, features: Float32Array.from([1.5, NaN, -3, 0.1, 2e9, 7]), ids: ['row-1', 'zweiter Bäcker'], times: [Date.UTC(2011, 0, 1, 5), null], scores: Float32Array.from([0.25, 0.875]) });
      const failed = { ...ok, role: 'champion' as const, version: 6, requestId: randomUUID(), ok: false, rows: 1, latencyMs: 0.5 };
      log.record({ ...failed, features: Float32Array.from([0, 0, 0]), ids: [null], times: [null] });
      await log.stop();

      const r = await db.query(
        `SELECT extract(epoch FROM at) * 1000 AS at, version, role, request_id, row_index, replica, latency_ms, ok, score, features::text AS features, row_id, extract(epoch FROM data_time) * 1000 AS data_time
           FROM predictions WHERE model = $1 ORDER BY version DESC, row_index`,
        [model],
      );
      expect(r.rows.map((x) => ({ ...x, at: Number(x.at), data_time: x.data_time === null ? null : Number(x.data_time) }))).toEqual([
        { at: ok.at, version: 7, role: 'shadow', request_id: ok.requestId, row_index: 0, replica: 'replica-ü:1', latency_ms: 1.25, ok: true, score: 0.25, features: '{1.5,NaN,-3}', row_id: 'row-1', data_time: Date.UTC(2011, 0, 1, 5) },
        { at: ok.at, version: 7, role: 'shadow', request_id: ok.requestId, row_index: 1, replica: 'replica-ü:1', latency_ms: 1.25, ok: true, score: 0.875, features: '{0.1,2e+09,7}', row_id: 'zweiter Bäcker', data_time: null },
        { at: ok.at, version: 6, role: 'champion', request_id: failed.requestId, row_index: 0, replica: 'replica-ü:1', latency_ms: 0.5, ok: false, score: null, features: '{0,0,0}', row_id: null, data_time: null },
      ]);
    });
  });

  test('drops and counts what does not fit its buffer instead of holding up answers', async () => {
    const model = uniqueName('log-full');
    await ctx(async ({ db }) => {
      const log = new PredictionLog(db, 'replica', 3);
      const record = (rows: number) => ({ at: Date.now(), model, version: 1, role: 'champion' as const, requestId: randomUUID(), latencyMs: 1, ok: true, rows, features: new Float32Array(rows), ids: Array(rows).fill(null), times: Array(rows).fill(null), scores: new Float32Array(rows) });
      log.record(record(2));
      log.record(record(2));
      log.record(record(1));
      await log.stop();
      const r = await db.query('SELECT count(*)::int AS n FROM predictions WHERE model = $1', [model]);
      expect(r.rows[0].n).toBe(3);
    });
  });
});
