import fs from 'node:fs';
import { decide } from '../../scripts/cli/approval';
import { as, commandSpec, creditSpec, ctx, registerSpec, rowsFrom, startService, startServing, toGate, uniqueName, waitUntil, withWorkers } from './helpers';
import { malformedBatchBodies, malformedPredictBodies, type Malformed } from './malformed-bodies';

const BODIES = 10_000;

/** Sends every body (16 at a time) and returns what came back that was not a 4xx with a reason, and the answers' statuses by kind. */
async function fire(url: string, bodies: Malformed[], token: string) {
  const wrong: string[] = [];
  const statuses = new Map<string, Set<number>>();
  const reasons: string[] = [];
  let next = 0;
  const sender = async () => {
    while (next < bodies.length) {
      const i = next++;
      const { kind, contentType, body } = bodies[i];
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(contentType && { 'content-type': contentType }) }, body }).catch((err: Error & { cause?: Error }) => `${err.message}: ${err.cause?.message}`);
      if (typeof res === 'string') {
        wrong.push(`#${i} ${kind}: no answer (${res})`);
        continue;
      }
      const text = await res.text();
      let reason: unknown;
      try {
        // A refusal says why in `error`; a quarantined batch lists its faults.
        const answer = JSON.parse(text) as { error?: unknown; errors?: { message: string }[] };
        reason = answer.error ?? answer.errors?.map((e) => e.message).join('; ');
      } catch {
        reason = undefined;
      }
      if (res.status < 400 || res.status >= 500 || typeof reason !== 'string' || reason.length === 0) wrong.push(`#${i} ${kind}: ${res.status} ${text.slice(0, 200)}`);
      else reasons.push(reason);
      statuses.set(kind, (statuses.get(kind) ?? new Set()).add(res.status));
    }
  };
  await Promise.all(Array.from({ length: 16 }, sender));
  return { wrong, reasons, statuses: Object.fromEntries([...statuses].map(([k, v]) => [k, [...v].sort().join('/')])) };
}

describe('fuzzing the prediction and intake endpoints', () => {
  const factory = withWorkers();

  test(`${BODIES} malformed prediction bodies and ${BODIES} malformed batches: each a 4xx with its reason, never a 5xx, and the services stay up`, async () => {
    const name = uniqueName('fuzz');
    await registerSpec(commandSpec(name));
    await ctx(async (c) => {
      await toGate(c, name, factory.batches[0]);
      expect((await decide(as(c, 'alice'), 'approve', name, '1')).outcome?.status).toBe('promoted');
    });
    const [row] = rowsFrom(factory.batches[3]);
    const limits = { maxBytes: 1_000_000, maxRows: 50 };
    const serving = await startServing({ SERVING_TOKENS: 'fuzz-token' });
    const intake = await startService('intake/main.js', 'INTAKE_PORT', { INTAKE_TOKENS: 'fuzz-token', INTAKE_MAX_BYTES: String(limits.maxBytes), INTAKE_MAX_ROWS: String(limits.maxRows) });
    try {
      const predict = () => fetch(`${serving.base}/v1/models/${name}/predict`, { method: 'POST', headers: { authorization: 'Bearer fuzz-token', 'content-type': 'application/json' }, body: JSON.stringify({ instances: [row] }) });
      await waitUntil('the replica to serve v1', async () => ((await predict()).status === 200 ? true : undefined), 30_000);

      const served = await fire(`${serving.base}/v1/models/${name}/predict`, malformedPredictBodies(BODIES, 12, row, creditSpec(name).features.map((f) => f.name)), 'fuzz-token');
      console.log(`prediction fuzz: ${BODIES} bodies, statuses by kind ${JSON.stringify(served.statuses)}`);
      expect(served.wrong).toEqual([]);
      expect((await predict()).status).toBe(200);

      const small = fs.readFileSync(factory.batches[2], 'utf8').split('\n').slice(0, 31).join('\n');
      const taken = await fire(`${intake.base}/v1/models/${name}/batches`, malformedBatchBodies(BODIES, 13, small, limits), 'fuzz-token');
      console.log(`intake fuzz: ${BODIES} bodies, statuses by kind ${JSON.stringify(taken.statuses)}`);
      expect(taken.wrong).toEqual([]);
      // Each limit was met and named, and bodies that reached validation were quarantined with their fault.
      for (const said of ['larger than 1000000 bytes', 'more than 50 rows', 'longer than 262144 bytes', 'Unsupported Media Type', 'not UTF-8 text', 'spreadsheet formula']) {
        expect(taken.reasons.some((r) => r.includes(said)) ? said : `no answer said "${said}"`).toBe(said);
      }
      const accepted = await fetch(`${intake.base}/v1/models/${name}/batches`, { method: 'POST', headers: { authorization: 'Bearer fuzz-token', 'content-type': 'text/csv' }, body: small });
      expect(accepted.status).toBe(200);
      for (const log of [serving.logFile, intake.logFile]) expect(fs.readFileSync(log, 'utf8')).not.toMatch(/request failed|"level":50/);
    } finally {
      await intake.stop();
      await serving.stop();
    }
  });
});
