import type { Client } from '@temporalio/client';
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
    // When each phase began, from the rollout's own timeline (a window's start is when the replicas were told to move).
    const { timeline } = await handle.query(rolloutStatusQuery);
    const phases = timeline!.map((t) => ({ phase: t.phase, at: Date.parse(t.at) }));
    return { version, outcome, start, end, phases };
  }
}
