import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { TASK_QUEUES } from '../../../config/task-queues';
import { rolloutStatusQuery, rolloutWorkflowId } from '../../../contracts/messages';
import { now, sleep } from './timing';

/** One rollout: its outcome, when it ran, and when each of its phases began. */
export interface RolloutRun {
  version: number;
  outcome: { status: string; version: number; reason?: string };
  start: number;
  end: number;
  phases: { phase: string; at: number }[];
}

/** Rolls out a model's versions one after another, each a real rolloutWorkflow on the control worker. */
export class Rollouts {
  /** The last version registered. */
  version = 0;

  constructor(
    private readonly client: Client,
    private readonly model: string,
    private readonly register: (version: number) => Promise<void>,
  ) {}

  /** Registers the next version and rolls it out; during, if given, is told the phase as the rollout runs. */
  async next(during?: (phase: string) => void): Promise<RolloutRun> {
    const version = ++this.version;
    await this.register(version);
    const handle = await this.client.workflow.start('rolloutWorkflow', {
      taskQueue: TASK_QUEUES.control,
      workflowId: rolloutWorkflowId(this.model, version),
      args: [{ model: this.model, version, actor: 'bench' }],
    });
    const start = now();
    let done = false;
    const result = handle.result().finally(() => (done = true)) as Promise<RolloutRun['outcome']>;
    // Watched live only where asked (queries cost the worker CPU on this small machine).
    while (during && !done) {
      const s = await handle.query(rolloutStatusQuery).catch(() => undefined);
      if (s) during(s.phase);
      await sleep(250);
    }
    const outcome = await result;
    const end = now();
    // When each phase began, from the workflow's history: setRolloutPhase completing moves the replicas.
    const phases = [{ phase: 'checking', at: start }];
    const scheduled = new Map<string, string>();
    for (const e of (await handle.fetchHistory()).events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name === 'setRolloutPhase') scheduled.set(String(e.eventId), JSON.parse(Buffer.from(s.input!.payloads![0].data!).toString()).phase);
      const c = e.activityTaskCompletedEventAttributes;
      const phase = c && scheduled.get(String(c.scheduledEventId));
      if (phase) phases.push({ phase, at: tsToMs(e.eventTime) });
    }
    return { version, outcome, start, end, phases };
  }
}
