import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decide } from '../../scripts/cli/approval';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { freePort } from '../../stack/process';
import { startTemporal } from '../../stack/temporal';
import { as, creditSpec, ctx, monthlyBatches, registerSpec, startService, startWorkers, testEnv, uniqueName } from './helpers';

describe('a Temporal dev server restart in the middle of a pipeline', () => {
  test('the pipeline resumes from persisted history and completes', async () => {
    // A server of its own, so stopping it disturbs no other test.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-restart-'));
    const address = `127.0.0.1:${await freePort()}`;
    const temporal = await startTemporal({ address, uiPort: await freePort(), namespace: 'default', dbFile: path.join(dir, 'temporal.sqlite'), logFile: path.join(dir, 'temporal.log') });
    const workers = await startWorkers({ TEMPORAL_ADDRESS: address });
    // Decisions reach this server through an approvals service of its own.
    const approvals = await startService('approvals/main.js', 'APPROVALS_PORT', { TEMPORAL_ADDRESS: address });
    const env = testEnv({ TEMPORAL_ADDRESS: address, FACTORY_APPROVALS_URL: approvals.base });
    try {
      const name = uniqueName('credit-restart');
      await registerSpec(creditSpec(name));
      const before = await ctx(async (c) => {
        expect((await ingest(c, name, monthlyBatches()[0])).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        return waitForStage(c, name, ['awaiting-approval'], 60_000);
      }, env);

      await temporal.restart();

      await ctx(async (c) => {
        // The state the pipeline had before the restart is all there: the same version awaits the same decision.
        const after = await waitForStage(c, name, ['awaiting-approval'], 60_000);
        expect(after.workflowId).toBe(before.workflowId);
        expect(after.status.version).toBe(before.status.version);
        const result = await decide(as(c, 'alice'), 'approve', name, String(before.status.version), { comment: 'after restart' });
        expect(result.outcome).toEqual({ status: 'promoted', version: 1 });
      }, env);
    } finally {
      await approvals.stop();
      await workers.stop();
      await temporal.stop();
    }
  });
});
