import fs from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { readCsv, writeCsv } from '../../data/csv';
import { creditSpec, ctx, registerSpec, startService, uniqueName, waitUntil, withWorkers } from './helpers';

describe('the data intake', () => {
  const factory = withWorkers();
  let intake: Awaited<ReturnType<typeof startService>> | undefined;
  afterAll(async () => intake?.stop());

  test('takes batches over HTTP (accepted 200, quarantined 422 with line and column) and from the S3 landing area', async () => {
    const name = uniqueName('credit-intake');
    await registerSpec(creditSpec(name));
    intake = await startService('intake/main.js', 'INTAKE_PORT', { INTAKE_TOKENS: 'feed-token', INTAKE_POLL_MS: '500' });
    const { base } = intake;
    const post = (body: string | Buffer, model = name, token = 'feed-token') =>
      fetch(`${base}/v1/models/${model}/batches?source=feed-month-1.csv`, { method: 'POST', headers: { 'content-type': 'text/csv', authorization: `Bearer ${token}` }, body });

    const csv = fs.readFileSync(factory.batches[0]);
    expect((await post(csv, name, 'wrong')).status).toBe(401);
    expect((await post(csv, 'no-such-model')).status).toBe(404);
    const ok = await post(csv);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'accepted', rows: 5000, duplicate: false });
    expect(await (await post(csv)).json()).toMatchObject({ status: 'accepted', duplicate: true });

    const records = readCsv(csv.toString()).map((r) => r.cells);
    records[3][1] = 'lots';
    const bad = await post(writeCsv(records));
    expect(bad.status).toBe(422);
    const quarantined = (await bad.json()) as { status: string; errors: { line?: number; column: string }[] };
    expect(quarantined.status).toBe('quarantined');
    expect(quarantined.errors[0]).toMatchObject({ line: 4, column: 'LIMIT_BAL' });

    // A producer drops a file under incoming/<model>/: it is ingested and removed from the landing area.
    const key = `incoming/${name}/month-2.csv`;
    await ctx((c) => c.store.client.send(new PutObjectCommand({ Bucket: c.store.bucket, Key: key, Body: fs.readFileSync(factory.batches[1]) })));
    const landed = await waitUntil('the landed batch', async () => {
      const r = await ctx((c) => c.db.query("SELECT b.status, b.row_count, b.source FROM data_batches b JOIN models m ON m.id = b.model_id WHERE m.name = $1 AND b.source = $2", [name, `s3://${key}`]));
      return r.rows[0];
    }, 60_000);
    expect(landed).toEqual({ status: 'accepted', row_count: 5000, source: `s3://${key}` });
    await waitUntil('the landing file to be removed', async () => ((await ctx((c) => c.store.exists(key))) ? undefined : true), 10_000);
  });
});
