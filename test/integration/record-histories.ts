import fs from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { loadEnv } from '../../config/env';
import { connectClient } from '../../config/temporal-connection';
import { workerVersion } from '../../workers/deployment';

/** The fixtures the replay test reads, one per workflow type and outcome worth keeping. */
export const HISTORIES_DIR = path.resolve(__dirname, '../../../test/fixtures/histories');

/** Which closed executions to keep: the latest of each type, per status. */
export const WANTED = ['factoryLoop', 'trainingPipeline', 'rolloutWorkflow', 'ingestBatch', 'scheduledTraining', 'driftMonitor'];

/**
 * Adds real histories from the test run's Temporal server to the replay
 * fixtures (FACTORY_RECORD_HISTORIES=1 bash scripts/test.sh), named by the
 * build that made them. It never replaces one: a history a released build
 * recorded is what its running workflows look like, and it must keep replaying
 * on every later build (a change to a workflow's commands goes under patched()
 * or into a new build, never into re-recorded fixtures).
 */
export async function recordHistories(): Promise<string[]> {
  const env = loadEnv();
  const { client, connection } = await connectClient(env);
  const build = workerVersion(env).buildId;
  try {
    fs.mkdirSync(HISTORIES_DIR, { recursive: true });
    const written: string[] = [];
    for (const type of WANTED) {
      const kept = new Set<string>();
      for await (const w of client.workflow.list({ query: `WorkflowType = "${type}" AND ExecutionStatus != "Running" AND ExecutionStatus != "Terminated"` })) {
        const name = `${type}-${w.status.name.toLowerCase()}`;
        if (kept.has(name)) continue;
        kept.add(name);
        const file = path.join(HISTORIES_DIR, `${name}-${build}.json`);
        if (fs.existsSync(file)) continue;
        const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
        fs.writeFileSync(file, JSON.stringify({ workflowId: w.workflowId, history: JSON.parse(historyToJSON(history)) }, null, 1), { flag: 'wx' });
        written.push(file);
      }
    }
    return written;
  } finally {
    await connection.close();
  }
}
