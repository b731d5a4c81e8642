import { findModel } from '../db/models';
import { cheapestWindow } from '../energy/window';
import { configuredPriceSource } from './training-energy';
import type { TrainingWindow } from '../contracts/payloads';
import type { ActivityDeps } from './deps';

/** Without a history of this model's training times, plan for this long a run. */
const DEFAULT_TRAINING_MS = 15 * 60_000;

/** Energy activities (control pool): when to train, given the grid price curve and a deadline. */
export function createEnergyActivities({ db, priceFeed }: ActivityDeps) {
  const source = configuredPriceSource(priceFeed);
  return {
    /**
     * The start of the cheapest window (or the first under the price ceiling)
     * in which a run of the model's usual length still ends before the deadline.
     * A price feed that is down is not a reason to miss the deadline: the run
     * starts now, and the explanation says why.
     */
    async planTrainingWindow(input: { model: string; deadline: string; maxPricePerMWh?: number }): Promise<TrainingWindow> {
      const model = await findModel(db, input.model);
      const recent = await db.query<{ ms: number | null }>(
        'SELECT avg(wall_ms)::float8 AS ms FROM (SELECT wall_ms FROM training_runs WHERE model_id = $1 ORDER BY id DESC LIMIT 5) r',
        [model.id],
      );
      const durationMs = Math.ceil(recent.rows[0].ms ?? DEFAULT_TRAINING_MS);
      const now = new Date();
      const deadline = new Date(input.deadline);
      try {
        const curve = await source.curve(now, deadline);
        const choice = cheapestWindow({ curve, now, durationMs, deadline, ceilingPerMWh: input.maxPricePerMWh });
        return {
          startAt: choice.start.toISOString(),
          explanation: choice.explanation,
          averagePricePerMWh: choice.averagePrice,
          savingsVsNow: choice.savingsVsNow,
          fallback: false,
          source: source.name,
        };
      } catch (err) {
        return {
          startAt: now.toISOString(),
          explanation: `price feed unavailable (${(err as Error).message}); training now so the deadline ${deadline.toISOString()} holds`,
          averagePricePerMWh: null,
          savingsVsNow: null,
          fallback: true,
          source: source.name,
        };
      }
    },
  };
}

export type EnergyActivities = ReturnType<typeof createEnergyActivities>;
