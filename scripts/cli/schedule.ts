import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { audit } from '../../db/models';
import { retrainScheduleId } from '../../triggers/schedules';
import { CliError, requireModel, type CliContext } from './context';

function at(text: string, flag: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new CliError(`${flag} "${text}" is not a date-time (e.g. 2026-11-01T00:00:00Z)`);
  return d;
}

/** The retrain schedule's spec, state and next runs. */
export async function describeSchedule(ctx: CliContext, model: string): Promise<string> {
  await requireModel(ctx, model, { action: 'schedule.describe' });
  const d = await ctx.client.schedule.getHandle(retrainScheduleId(model)).describe().catch((err) => {
    if (err instanceof ScheduleNotFoundError) throw new CliError(`${model} has no retrain schedule: add triggers.schedule to its spec and register it again`);
    throw err;
  });
  return [
    `${retrainScheduleId(model)}${d.state.paused ? ' (paused)' : ''}`,
    `  spec: ${JSON.stringify({ intervals: d.spec.intervals, cron: d.spec.calendars, timezone: d.spec.timezone, jitterMs: d.spec.jitter })}`,
    `  next runs: ${d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()).join(', ') || 'none'}`,
    `  recent runs: ${d.info.recentActions.slice(-3).map((a) => a.scheduledAt.toISOString()).join(', ') || 'none'}`,
  ].join('\n');
}

/**
 * Runs the schedule's action for every time it would have fired between two
 * instants (after an outage, say). Each run only asks the loop, so a backfill of
 * many runs still yields at most one pipeline plus one coalesced follow-up.
 */
export async function backfillSchedule(ctx: CliContext, model: string, fromText: string, toText: string): Promise<string> {
  await requireModel(ctx, model, { action: 'schedule.backfill' });
  const start = at(fromText, '--from');
  const end = at(toText, '--to');
  if (end <= start) throw new CliError(`--to (${end.toISOString()}) must be after --from (${start.toISOString()})`);
  const handle = ctx.client.schedule.getHandle(retrainScheduleId(model));
  await handle.backfill([{ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL }]).catch((err) => {
    if (err instanceof ScheduleNotFoundError) throw new CliError(`${model} has no retrain schedule to backfill`);
    throw err;
  });
  await audit(ctx.db, { actor: ctx.actor, action: 'schedule.backfill', model, channel: 'cli', outcome: 'ok', details: { from: start.toISOString(), to: end.toISOString() } });
  return `${model}: backfill ${start.toISOString()} → ${end.toISOString()} requested; the loop coalesces the runs (factory status ${model})`;
}
