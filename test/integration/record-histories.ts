import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { connections, loadEnv } from '../../config/env';

/** The fixtures the replay test reads, one per workflow type and outcome worth keeping. */
export const HISTORIES_DIR = path.resolve(__dirname, '../../../test/fixtures/histories');

/** Which closed executions to keep: the latest of each type, per status. */
export const WANTED = ['factoryLoop', 'trainingPipeline', 'rolloutWorkflow', 'ingestBatch', 'scheduledTraining', 'driftMonitor'];

/**
 * Saves real histories from the test run's Temporal server as replay fixtures
 * (FACTORY_RECORD_HISTORIES=1 bash scripts/test.sh). Re-record when a workflow
 * changes on purpose, under a patch or a new workflow version, and commit them.
 */
export async function recordHistories(): Promise<string[]> {
  const c = connections(loadEnv());
  const connection = await Connection.connect({ address: c.temporalAddress });
  try {
    const client = new Client({ connection, namespace: c.namespace });
    fs.mkdirSync(HISTORIES_DIR, { recursive: true });
    const written: string[] = [];
    for (const type of WANTED) {
      const kept = new Set<string>();
      for await (const w of client.workflow.list({ query: `WorkflowType = "${type}" AND ExecutionStatus != "Running" AND ExecutionStatus != "Terminated"` })) {
        const name = `${type}-${w.status.name.toLowerCase()}`;
        if (kept.has(name)) continue;
        kept.add(name);
        const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
        const file = path.join(HISTORIES_DIR, `${name}.json`);
        fs.writeFileSync(file, JSON.stringify({ workflowId: w.workflowId, history: JSON.parse(historyToJSON(history)) }, null, 1));
        written.push(file);
      }
    }
    return written;
  } finally {
    await connection.close();
  }
}
