import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { OnnxScorer } from '../../ml/scoring';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { freePort, stopProcess } from '../../stack/process';
import { creditSpec, ctx, registerSpec, ROOT, testEnv, uniqueName, waitUntil, withWorkers } from './helpers';

describe('the serving replica', () => {
  const factory = withWorkers();
  let serving: ChildProcess | undefined;
  afterAll(async () => serving && stopProcess(serving));

  test('serves the champion, validates input, batches, and swaps to a new champion on promotion without failed requests', async () => {
    const name = uniqueName('credit-serve');
    await registerSpec(creditSpec(name));
    const promote = async (batch: string, version: number) =>
      ctx(async (c) => {
        expect((await ingest(c, name, batch)).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        await waitForStage(c, name, ['awaiting-approval'], 60_000);
        expect((await decide(c, 'approve', name, String(version), 'alice')).outcome).toMatchObject({ status: 'promoted', version });
      });
    await promote(factory.batches[0], 1);

    const port = await freePort();
    const logs = fs.openSync(path.join(testEnv().FACTORY_DATA_DIR, 'logs', `serving-${port}.log`), 'a');
    // Polling is slowed to a minute: a swap within seconds can only come from LISTEN/NOTIFY.
    serving = spawn(process.execPath, [path.join(ROOT, 'dist/serving/main.js')], {
      stdio: ['ignore', logs, logs],
      env: { ...process.env, SERVING_PORT: String(port), SERVING_TOKENS: 's3cret', SERVING_POLL_MS: '60000', SERVING_MAX_DELAY_MS: '20' },
    });
    const base = `http://127.0.0.1:${port}`;
    await waitUntil('serving ready', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 30_000);
    // A real client row from a batch the model has not seen, as JSON by column name.
    const [header, first] = fs.readFileSync(factory.batches[3], 'utf8').split('\n');
    const values = first.split(',').map(Number);
    const row: Record<string, number | undefined> = Object.fromEntries(header.split(',').map((h, i) => [h.replace(/"/g, ''), values[i]]));
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
    const scorer = await OnnxScorer.load(await ctx((c) => c.store.get({ key: r.artifact_key, sha256: r.artifact_sha256, bytes: Number(r.artifact_bytes) })), spec.features.length);
    const direct = await scorer.score(Float32Array.from(spec.features.map((f) => row[f.name] as number)), 1);
    await scorer.release();
    expect(answer.predictions[0]).toBeCloseTo(direct[0], 6);

    expect((await predict({ instances: [row] }, 'wrong')).status).toBe(401);
    expect((await predict({ instances: [row] }, 's3cret', 'nope')).status).toBe(404);
    const bad = await predict({ instances: [{ ...row, AGE: 30.5 }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('instances.0.AGE: must be an integer');
    const missing = await predict({ instances: [{ ...row, LIMIT_BAL: undefined }] });
    expect(((await missing.json()) as { error: string }).error).toBe('instances.0.LIMIT_BAL: must be a number');

    // Concurrent requests share ONNX Runtime calls.
    const burst = await Promise.all(Array.from({ length: 40 }, () => predict({ instances: [row] })));
    expect(burst.every((b) => b.status === 200)).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const calls = Number(/serving_batch_rows_count\{model="[^"]+"\} (\d+)/.exec(metrics)![1]);
    expect(calls).toBeLessThan(1 + 1 + 40);

    // Promote v2 under steady traffic: every request answers, and the replica moves to v2.
    let failures = 0;
    const seen = new Set<number>();
    let running = true;
    const traffic = (async () => {
      while (running) {
        const res = await predict({ instances: [row] });
        if (res.status !== 200) failures++;
        else seen.add(((await res.json()) as { version: number }).version);
      }
    })();
    await promote(factory.batches[1], 2);
    await waitUntil('the replica to serve v2', async () => (seen.has(2) ? true : undefined), 10_000);
    running = false;
    await traffic;
    expect(failures).toBe(0);
    expect([...seen].sort()).toEqual([1, 2]);
  });
});
