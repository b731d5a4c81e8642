import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { TASK_QUEUES } from '../config/task-queues';
import { durationMs } from '../specs/duration';
import type { ModelSpec } from '../specs/model-spec';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import type { driftMonitor, scheduledTraining } from '../workflows';

export const retrainScheduleId = (model: string) => `factory-retrain-${model}`;
export const driftScheduleId = (model: string) => `factory-drift-${model}`;

type Wanted = Omit<ScheduleOptions, 'scheduleId'>;

/** The Temporal Schedules a model's spec asks for: its retrain schedule and its drift monitor. */
function wantedSchedules(spec: ModelSpec): Record<string, Wanted | undefined> {
  const { schedule, drift } = spec.triggers;
  const common = { typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.FactoryModel, value: spec.name }] };
  return {
    [retrainScheduleId(spec.name)]: schedule && {
      spec: {
        ...(schedule.every ? { intervals: [{ every: durationMs(schedule.every) }] } : { cronExpressions: [schedule.cron!] }),
        timezone: schedule.timezone,
        jitter: durationMs(schedule.jitter),
      },
      action: { type: 'startWorkflow', workflowType: 'scheduledTraining' satisfies (typeof scheduledTraining)['name'], args: [{ model: spec.name }], taskQueue: TASK_QUEUES.control, ...common },
      // A run that finds the previous one still going is skipped: the loop coalesces anyway, and nothing piles up.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
      memo: { model: spec.name },
    },
    [driftScheduleId(spec.name)]: drift && {
      spec: { intervals: [{ every: durationMs(drift.every) }] },
      action: { type: 'startWorkflow', workflowType: 'driftMonitor' satisfies (typeof driftMonitor)['name'], args: [{ model: spec.name }], taskQueue: TASK_QUEUES.control, ...common },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10m' },
      memo: { model: spec.name },
    },
  };
}

/** Creates, updates or deletes the model's schedules so they match its spec. Returns what it did, for the CLI. */
export async function syncSchedules(client: Client, spec: ModelSpec): Promise<string[]> {
  const done: string[] = [];
  for (const [scheduleId, wanted] of Object.entries(wantedSchedules(spec))) {
    const handle = client.schedule.getHandle(scheduleId);
    const exists = await handle.describe().then(
      () => true,
      (err) => {
        if (err instanceof ScheduleNotFoundError) return false;
        throw err;
      },
    );
    if (!wanted) {
      if (exists) {
        await handle.delete();
        done.push(`${scheduleId} deleted`);
      }
    } else if (exists) {
      await handle.update((prev) => ({ ...prev, spec: wanted.spec, action: wanted.action, policies: { ...prev.policies, ...wanted.policies } }));
      done.push(`${scheduleId} updated`);
    } else {
      await client.schedule.create({ scheduleId, ...wanted });
      done.push(`${scheduleId} created`);
    }
  }
  return done;
}
