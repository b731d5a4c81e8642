import { upsertSearchAttributes } from '@temporalio/workflow';
import type { IngestResult } from '../activities/types';
import type { ArtifactRef } from '../storage/artifacts';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { data } from './activities';

/** One uploaded batch through validation on the cpu pool: accepted whole, or quarantined whole. */
export async function ingestBatch(input: { model: string; source: string; upload: ArtifactRef; actor: string }): Promise<IngestResult> {
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryModel, value: input.model }]);
  return data.ingestBatch(input);
}
