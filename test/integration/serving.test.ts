import fs from 'node:fs';
import { toDataset } from '../../ml/dataset';
import { OnnxScorer } from '../../ml/scoring';
import { validateBatch } from '../../specs/data-batch';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { as, creditSpec, ctx, registerSpec, rowsFrom, sendTraffic, startServing, uniqueName, waitUntil, withWorkers } from './helpers';

describe('the serving replica', () => {
  const factory = withWorkers();
  let serving: Awaited<ReturnType<typeof startServing>> | undefined;
  afterAll(async () => serving?.stop());

  test('serves the champion, validates input, batches, and swaps to a new champion on promotion without failed requests', async () => {
    const name = uniqueName('credit-serve');
    // This test is about swaps without a failed request; the guard's judgement has its own tests (rollout.test.ts). A
    // canary that sees a few hundred distinct rows in 30% samples gives a score PSI that is noise, so the guard is wide here.
    await registerSpec(creditSpec(name, (raw) => (raw.rollout.guard.maxScorePsi = 10)));
    const promote = async (batch: string, version: number) =>
      ctx(async (c) => {
        expect((await ingest(c, name, batch)).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        await waitForStage(c, name, ['awaiting-approval'], 60_000);
        const { outcome } = await decide(as(c, 'alice'), 'approve', name, String(version));
        expect({ status: outcome?.status, version: outcome?.version, reason: (outcome as { reason?: string }).reason }).toEqual({ status: 'promoted', version, reason: undefined });
      });
    await promote(factory.batches[0], 1);

    // Polling is slowed to a minute: a swap within seconds can only come from LISTEN/NOTIFY.
    serving = await startServing({ SERVING_TOKENS: 's3cret', SERVING_POLL_MS: '60000', SERVING_MAX_DELAY_MS: '20' });
    const { base } = serving;
    // A real client row from a batch the model has not seen, as JSON by column name.
    const [row] = rowsFrom(factory.batches[3]);
    const predict = (body: unknown, token = 's3cret', model = name) =>
      fetch(`${base}/v1/models/${model}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

    const ok = await predict({ instances: [row, row] });
    expect(ok.status).toBe(200);
    const answer = (await ok.json()) as { version: number; predictions: number[] };
    expect(answer.version).toBe(1);
    expect(answer.predictions).toHaveLength(2);
    // The same score ONNX Runtime gives for the champion's bytes.
    const champion = await ctx((c) => c.db.query("SELECT v.artifact_key, v.artifact_sha256, v.artifact_bytes FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = 1", [name]));
    const r = champion.rows[0];
    const spec = creditSpec(name);
    const scorer = await OnnxScorer.load(await ctx((c) => c.store.get({ key: r.artifact_key, sha256: r.artifact_sha256, bytes: Number(r.artifact_bytes) })), spec);
    const direct = await scorer.scoreDataset(toDataset(validateBatch(spec, fs.readFileSync(factory.batches[3], 'utf8')).rows.slice(0, 1), spec));
    await scorer.release();
    expect(answer.predictions[0]).toBeCloseTo(direct[0], 6);

    expect((await predict({ instances: [row] }, 'wrong')).status).toBe(401);
    expect((await predict({ instances: [row] }, 's3cret', 'nope')).status).toBe(404);
    const bad = await predict({ instances: [{ ...row, AGE: 30.5 }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('instances.0.AGE: must be an integer');
    const missing = await predict({ instances: [{ ...row, LIMIT_BAL: undefined }] });
    expect(((await missing.json()) as { error: string }).error).toBe('instances.0.LIMIT_BAL: must be a number');
    // String categories: a value the spec does not list is refused where unknown is "error", scored as "other" where it is "other".
    const unlisted = await predict({ instances: [{ ...row, SEX: 'divers' }] });
    expect(((await unlisted.json()) as { error: string }).error).toBe('instances.0.SEX: must be one of "male", "female"');
    const other = await predict({ instances: [{ ...row, EDUCATION: 'doctorate' }, { ...row, EDUCATION: 'undocumented 5' }] });
    expect(other.status).toBe(200);
    const [a, b] = ((await other.json()) as { predictions: number[] }).predictions;
    expect(a).toBe(b);

    // Concurrent requests share ONNX Runtime calls: 40 at once take at most half as many (batch-1 would take 40).
    const onnxCalls = async () => Number(/serving_batch_rows_count\{model="[^"]+"\} (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())![1]);
    const before = await onnxCalls();
    const burst = await Promise.all(Array.from({ length: 40 }, () => predict({ instances: [row] })));
    expect(burst.every((b) => b.status === 200)).toBe(true);
    expect((await onnxCalls()) - before).toBeLessThanOrEqual(20);

    // Roll v2 out under steady traffic: every request answers, and the replica ends on v2.
    const traffic = sendTraffic([base], name, rowsFrom(factory.batches[4], 300), { token: 's3cret', clients: 2 });
    await promote(factory.batches[1], 2);
    const { failed, versions, ok: answered } = await traffic.stop();
    expect(failed).toBe(0);
    expect([...versions.keys()].sort()).toEqual([1, 2]);
    expect((await (await fetch(`${base}/readyz`)).json()) as unknown).toMatchObject({ models: { [name]: { champion: 2, candidate: null } } });
    // Every answered request reached the prediction log, features included, off the response path: the traffic's,
    // and the burst's (the first requests and shadow copies come on top).
    const logged = await waitUntil('every answer in the prediction log', async () => {
      const r = await ctx((c) => c.db.query('SELECT count(*)::int AS n, min(array_length(features, 1)) AS f FROM predictions WHERE model = $1', [name]));
      return r.rows[0].n >= answered + 40 ? r.rows[0] : undefined;
    }, 15_000);
    expect(logged.f).toBe(spec.features.length);
  });
});
