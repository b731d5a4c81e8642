import { upsertSearchAttributes } from '@temporalio/workflow';
import type { IngestOutcome } from '../contracts/payloads';
import type { ArtifactRef } from '../storage/artifacts';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { data, triggers } from './activities';

/**
 * One uploaded batch through validation on the cpu pool: accepted whole, or
 * quarantined whole. An accepted batch that carries the model's new rows across
 * its threshold asks the loop for a retrain.
 */
export async function ingestBatch(input: { model: string; source: string; upload: ArtifactRef; actor: string }): Promise<IngestOutcome> {
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model }]);
  const result = await data.ingestBatch(input);
  if (result.status !== 'accepted' || result.duplicate) return result;
  const { crossed, rows, threshold } = await triggers.checkRowThreshold({ model: input.model, batchRows: result.rows });
  if (!crossed || !threshold) return result;
  const detail = `${rows} new labelled rows since the champion's snapshot (threshold ${threshold}); last batch ${input.source}`;
  const { coalesced } = await triggers.requestTraining({ model: input.model, trigger: { reason: 'rows', requestedBy: input.actor, detail } });
  return { ...result, retrain: { rows, threshold, coalesced } };
}
