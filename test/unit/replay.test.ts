import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR as DIR, WANTED } from '../integration/record-histories';


/**
 * Histories recorded from real runs (test/integration/record-histories.ts) replayed
 * against today's workflow code: a change that would break a running workflow
 * (a reordered activity, a removed timer) fails here, not in production.
 */
describe('workflow histories replay against the current code', () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

  test('fixtures cover every workflow type', () => {
    // <type>-<status>.json, or <type>-<status>-<build>.json for those recorded since builds were named.
    const types = new Set(files.map((f) => f.slice(0, f.indexOf('-'))));
    expect([...types].sort()).toEqual([...WANTED].sort());
  });

  test('every recorded history replays deterministically', async () => {
    const histories = files.map((file) => {
      const { workflowId, history } = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
      return { workflowId, history: historyFromJSON(history), file };
    });
    const failures: string[] = [];
    let replayed = 0;
    // One workflow bundle for all of them: bundling is the slow part.
    for await (const r of Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows'), replayName: 'fixtures' }, histories)) {
      replayed++;
      if (r.error) failures.push(`${histories.find((h) => h.workflowId === r.workflowId)?.file}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
