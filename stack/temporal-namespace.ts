import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';

const { IndexedValueType } = temporal.api.enums.v1;
const INDEXED: Record<(typeof SEARCH_ATTRIBUTES)[keyof typeof SEARCH_ATTRIBUTES]['type'], temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};
const RETENTION_DAYS = 30;

const alreadyExists = (err: unknown) => (err as { code?: number }).code === 6; // gRPC ALREADY_EXISTS

/**
 * The namespace and the factory's search attributes on a Temporal cluster, made
 * if missing (the dev server gets them as start flags). Returns once the
 * frontend answers a visibility query that names them, so workers and
 * workflows can use them at once.
 */
export async function ensureNamespace(connection: Connection, namespace: string): Promise<void> {
  await connection.workflowService
    .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(`${RETENTION_DAYS} days`), description: 'AI Factory' })
    .catch((err) => {
      if (!alreadyExists(err)) throw err;
    });
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.values(SEARCH_ATTRIBUTES).filter((a) => !(customAttributes ?? {})[a.name]);
  if (missing.length > 0) {
    await connection.operatorService
      .addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((a) => [a.name, INDEXED[a.type]])) })
      .catch((err) => {
        if (!alreadyExists(err)) throw err;
      });
  }
  const query = Object.values(SEARCH_ATTRIBUTES)
    .map((a) => `${a.name} IS NULL`)
    .join(' AND ');
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await connection.workflowService.countWorkflowExecutions({ namespace, query });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`namespace ${namespace} or its search attributes are still unknown to the frontend after a minute: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
