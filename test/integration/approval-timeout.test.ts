import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { loopWorkflowId, loopStateQuery } from '../../contracts/messages';
import { creditSpec, ctx, withWorkers, registerSpec, uniqueName, waitUntil } from './helpers';

describe('an unanswered approval request', () => {
  const factory = withWorkers();

  async function runUntilDecided(onTimeout: 'reject' | 'escalate') {
    const name = uniqueName(`credit-${onTimeout}`);
    await registerSpec(creditSpec(name, (raw) => (raw.approval = { approvers: ['alice'], timeout: '3s', onTimeout })));
    return ctx(async (c) => {
      expect((await ingest(c, name, factory.batches[0])).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const { workflowId } = await waitForStage(c, name, ['awaiting-approval'], 60_000);
      const started = Date.now();
      const outcome = await c.client.workflow.getHandle(workflowId).result();
      const waited = Date.now() - started;
      const approval = await c.db.query(
        'SELECT a.decision, a.decided_by, a.channel, a.comment, v.status FROM approvals a JOIN model_versions v ON v.id = a.model_version_id JOIN models m ON m.id = v.model_id WHERE m.name = $1',
        [name],
      );
      const trail = await c.db.query('SELECT action FROM audit_events WHERE model = $1 ORDER BY id', [name]);
      // The loop is idle again, ready for the next request.
      await waitUntil('the loop to be idle', async () => ((await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)).running ? undefined : true));
      return { outcome, waited, approval: approval.rows[0], actions: trail.rows.map((r) => r.action) };
    });
  }

  test('is rejected at the deadline, recorded as a timeout decision', async () => {
    const r = await runUntilDecided('reject');
    expect(r.outcome).toMatchObject({ status: 'rejected', version: 1, by: 'factory', reason: 'no decision within 3s' });
    expect(r.approval).toEqual({ decision: 'rejected', decided_by: 'factory', channel: 'timeout', comment: 'no decision within 3s', status: 'rejected' });
    expect(r.actions).not.toContain('approval.escalate');
  });

  test('is escalated once, then rejected after a second period', async () => {
    const r = await runUntilDecided('escalate');
    expect(r.outcome).toMatchObject({ status: 'rejected', reason: 'no decision within 3s after escalation' });
    expect(r.waited).toBeGreaterThanOrEqual(5_000);
    expect(r.actions).toEqual(expect.arrayContaining(['approval.escalate', 'version.reject']));
  });
});
