import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { connections } from '../../config/env';
import { ingest } from '../../scripts/cli/ingest';
import { reportLink } from '../../scripts/cli/report';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { creditSpec, ctx, monthlyBatches, registerSpec, ROOT, startWorkers, testEnv, uniqueName, waitUntil } from './helpers';

/** What MLOps staff see: the pipeline in the Temporal Web UI, at its approval gate, with how to decide. */
describe('Temporal Web UI', () => {
  test('shows the pipeline awaiting approval, with its stage and the approval instructions', async () => {
    const workers = await startWorkers();
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const name = uniqueName('credit-web');
      await registerSpec(creditSpec(name));
      const { workflowId, status } = await ctx(async (c) => {
        expect((await ingest(c, name, monthlyBatches()[0])).status).toBe('accepted');
        await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
        return waitForStage(c, name, ['awaiting-approval'], 60_000);
      });
      const ui = connections(testEnv()).temporalUi;
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });

      // The list, filtered by the factory's search attributes as staff would.
      const query = encodeURIComponent(`FactoryModel="${name}" AND FactoryStage="awaiting-approval" AND FactoryAwaitingApproval="alice"`);
      await page.goto(`${ui}/namespaces/default/workflows?query=${query}`);
      await page.getByText(workflowId).first().waitFor({ timeout: 30_000 });

      await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`);
      await page.getByText('trainingPipeline').first().waitFor({ timeout: 30_000 });
      const shots = path.join(ROOT, '.factory/test-artifacts');
      fs.mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'web-ui-pipeline.png'), fullPage: true });
      expect(await page.content()).toContain('Running');
      // The pipeline's current details: stage, metrics and how to decide.
      await page.getByRole('link', { name: 'User Metadata' }).or(page.getByText('User Metadata')).first().click();
      // The UI renders each piece of workflow markdown in its own sandboxed frame.
      const details = await waitUntil('the current details frame', async () =>
        page.frames().find((f) => decodeURIComponent(f.url()).includes('stage **awaiting-approval**')),
      );
      await details.getByText(`factory approve ${name} ${status.version}`).first().waitFor({ timeout: 10_000 });
      await details.getByText('A signal or update sent from here is refused').first().waitFor({ timeout: 5_000 });
      await details.getByText('Policy:').first().waitFor({ timeout: 5_000 });
      // The report is named, not linked: a pre-signed link would be a credential kept in the history.
      await details.getByText(`factory report ${name} ${status.version}`).first().waitFor({ timeout: 5_000 });
      const summary = await waitUntil('the summary frame', async () => page.frames().find((f) => decodeURIComponent(f.url()).includes(`${name}: manual training by test`)));
      expect(summary).toBeDefined();
      await page.screenshot({ path: path.join(shots, 'web-ui-pipeline-details.png'), fullPage: true });

      // The evaluation report the approval request links to renders cleanly, charts and all.
      const report = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
      const problems: string[] = [];
      report.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      report.on('pageerror', (e) => problems.push(e.message));
      const response = await report.goto((await ctx((c) => reportLink(c, name, status.version))).url);
      expect(response?.status()).toBe(200);
      await report.getByText('Verdict: passes the policy').waitFor({ timeout: 10_000 });
      expect(await report.locator('svg').count()).toBeGreaterThanOrEqual(6);
      for (const title of ['ROC curve', 'Precision–recall curve', 'Calibration (10 bins)', 'Score distribution by true label', 'Group rates: SEX', 'Group rates: AGE bands']) {
        await report.locator('svg').getByText(title).first().waitFor({ timeout: 5_000 });
      }
      // Every group the evaluation found too small is shown as such, and no other.
      const tooSmall = status.candidate!.fairness.flatMap((f) => f.groups).filter((g) => g.note?.startsWith('too small to measure')).length;
      expect(await report.getByText(/^too small to measure/).count()).toBe(tooSmall);
      await report.screenshot({ path: path.join(shots, 'evaluation-report.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
      await workers.stop();
    }
  });
});
