import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { logger } from '../config/logger';
import { findChampion } from '../db/champion';
import { audit, findModel } from '../db/models';
import { durationMs } from '../specs/duration';
import { signalTraining } from '../triggers/request';
import type { ActivityDeps } from './deps';
import type { Trigger } from '../contracts/payloads';

/** Trigger activities (control pool): the checks behind automatic retrains, and the request itself. */
export function createTriggerActivities({ db, client }: ActivityDeps & { client: Client }) {
  return {
    /**
     * Asks the model's loop for a pipeline. Automatic requests get the spec's
     * energy deadline, so they wait for a cheap window; a person's request
     * carries its own. Says whether it was coalesced with a running pipeline.
     */
    async requestTraining(input: { model: string; trigger: Trigger }): Promise<{ coalesced: boolean; running?: string }> {
      const model = await findModel(db, input.model).catch((err) => {
        throw ApplicationFailure.nonRetryable(err.message, 'UnknownModel');
      });
      const energy = model.spec.triggers.energy;
      const trigger: Trigger =
        input.trigger.reason !== 'manual' && energy && !input.trigger.deadline
          ? { ...input.trigger, deadline: new Date(Date.now() + durationMs(energy.deadline)).toISOString(), maxPricePerMWh: energy.maxPricePerMWh }
          : input.trigger;
      const state = await signalTraining(client, input.model, trigger);
      const coalesced = state.queued;
      await audit(db, { actor: trigger.requestedBy, action: 'pipeline.request', model: input.model, outcome: 'ok', details: { reason: trigger.reason, detail: trigger.detail, deadline: trigger.deadline, coalesced } });
      logger.info({ model: input.model, reason: trigger.reason, coalesced }, 'training requested');
      return { coalesced, running: state.running };
    },

    /**
     * Accepted labelled rows since the champion's snapshot (all of them before
     * there is a champion), and whether the batch just accepted carried the
     * count across a multiple of the threshold: one request per N new rows.
     */
    async checkRowThreshold(input: { model: string; batchRows: number }): Promise<{ threshold?: number; rows: number; crossed: boolean }> {
      const model = await findModel(db, input.model);
      const threshold = model.spec.triggers.rows;
      const champion = await findChampion(db, model.id);
      const r = await db.query<{ rows: string }>(
        "SELECT coalesce(sum(row_count), 0) AS rows FROM data_batches WHERE model_id = $1 AND status = 'accepted' AND NOT id = ANY($2)",
        [model.id, champion?.snapshot.batchIds ?? []],
      );
      const rows = Number(r.rows[0].rows);
      if (!threshold) return { rows, crossed: false };
      const before = rows - input.batchRows;
      return { threshold, rows, crossed: Math.floor(rows / threshold) > Math.floor(Math.max(0, before) / threshold) };
    },
  };
}

export type TriggerActivities = ReturnType<typeof createTriggerActivities>;
