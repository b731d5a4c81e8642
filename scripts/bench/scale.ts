/**
 * Scale (issue 13): N models' loops (1, 5, 20), each running one pipeline of a
 * small model to its approval gate, on the Temporal dev server and on a
 * Temporal cluster (four service processes on PostgreSQL), with one and with two
 * workers per pool. Every process is the real one; each pipeline's figures come
 * from its own history.
 *
 *   node dist/scripts/bench/scale.js [--models 1,5,20] [--workers 1,2] [--servers dev,cluster]
 *
 * Prints, per setup: pipelines per minute (first request to last gate), the
 * Temporal overhead per pipeline (its time from start to gate less its
 * activities' own running time: scheduling, dispatch and workflow tasks; target
 * under 1 s) and the p99 of its workflow tasks' latency (scheduled to completed).
 */
import os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import type { temporal } from '@temporalio/proto';
import { loopStateQuery, loopWorkflowId } from '../../contracts/messages';
import { creditDefaultText } from '../../data/credit-default';
import { replayBatches } from '../../data/replay';
import { upsertModel } from '../../db/models';
import { addPerson } from '../../people/directory';
import { withContext } from '../../scripts/cli/context';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import type { WorkerPool } from '../../config/task-queues';
import { freePort, startProcess, stopProcess, waitFor } from '../../stack/process';
import { track } from './kit/child-processes';
import { arg, runMain, say, verdict } from './kit/cli';
import { ROOT, shippedSpec } from './kit/repo';
import { withStackFixture, type StackFixture } from './kit/stack-fixture';

const MODELS = arg('models', '1,5,20').split(',').map(Number);
const WORKERS = arg('workers', '1,2').split(',').map(Number);
const SERVERS = arg('servers', 'dev,cluster').split(',') as ('dev' | 'cluster')[];
const POOLS: WorkerPool[] = ['control', 'cpu', 'gpu'];
const TARGET_OVERHEAD_S = 1;

type Event = temporal.api.history.v1.IHistoryEvent;
const at = (e: Event) => Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** From one pipeline's history: start to gate, its activities' own time in that span, and its workflow tasks' latencies. */
function measure(events: Event[]) {
  const start = at(events[0]);
  const gate = events.find((e) => {
    const stage = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.FactoryStage?.data;
    return stage && JSON.parse(Buffer.from(stage).toString()) === 'awaiting-approval';
  });
  if (!gate) throw new Error('a pipeline without a gate in its history');
  const end = at(gate);
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  let activityMs = 0;
  let queuedMs = 0;
  const taskMs: number[] = [];
  for (const e of events) {
    if (at(e) > end) break;
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const startedAt = byId.get(String(done.startedEventId))!;
      activityMs += at(e) - at(startedAt);
      queuedMs += at(startedAt) - at(byId.get(String(done.scheduledEventId))!);
    }
    const wft = e.workflowTaskCompletedEventAttributes;
    if (wft) taskMs.push(at(e) - at(byId.get(String(wft.scheduledEventId))!));
  }
  return { wallMs: end - start, overheadMs: end - start - activityMs, queuedMs, taskMs };
}

/** One setup's round: N fresh models, a batch each, then N training requests at once, each followed to its gate. */
async function round(f: StackFixture, server: string, workers: number, n: number, batch: string) {
  const names = Array.from({ length: n }, (_, i) => `scale-${server}-w${workers}-n${n}-${i}`);
  for (const name of names) {
    await upsertModel(
      f.db,
      shippedSpec((raw) => {
        raw.name = name;
        // A small model: this measures the loop around training, not training.
        Object.assign(raw.trainer, { trees: 20, maxDepth: 3 });
        raw.triggers = {};
        raw.approval.supersede = false;
        // Every model's evaluation shares these cores; latency here says nothing of the model.
        raw.policy.floors.latencyP99Ms = 10_000;
      }),
      'bench',
    );
  }
  return withContext(async (c) => {
    for (const name of names) if ((await ingest(c, name, batch)).status !== 'accepted') throw new Error(`${name}: batch not accepted`);
    const started = Date.now();
    await Promise.all(names.map((name) => requestTraining(c, name, { reason: 'manual', requestedBy: 'bench' })));
    const ids = await Promise.all(names.map(async (name) => (await waitForStage(c, name, ['awaiting-approval'], 15 * 60_000)).workflowId));
    const seconds = (Date.now() - started) / 1000;
    const figures = await Promise.all(ids.map(async (id) => measure((await c.client.workflow.getHandle(id).fetchHistory()).events!)));
    // The loops were idle before: each started its pipeline at once.
    await Promise.all(names.map((name) => c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)));
    const overheads = figures.map((x) => x.overheadMs / 1000);
    return {
      perMinute: (n / seconds) * 60,
      seconds,
      meanWallS: figures.reduce((s, x) => s + x.wallMs, 0) / n / 1000,
      meanOverheadS: overheads.reduce((s, x) => s + x, 0) / n,
      p50OverheadS: quantile(overheads, 0.5),
      maxOverheadS: Math.max(...overheads),
      meanQueuedS: figures.reduce((s, x) => s + x.queuedMs, 0) / n / 1000,
      taskP99Ms: quantile(figures.flatMap((x) => x.taskMs), 0.99),
    };
  }, f.env);
}

async function benchServer(server: 'dev' | 'cluster', rows: string[]): Promise<void> {
  await withStackFixture(
    `bench-scale-${server}`,
    undefined,
    async (f) => {
      // The gate needs an approver in the directory and the approvals service's public key.
      await addPerson(f.db, { id: 'bench-approver', displayName: 'Bench Approver', groups: ['model-approvers'] }, 'bench');
      const approvalsPort = await freePort();
      const approvals = track(startProcess(process.execPath, [`${ROOT}/dist/approvals/main.js`], `${f.dataDir}/logs/approvals.log`, { ...process.env, APPROVALS_PORT: String(approvalsPort), FACTORY_SERVICE: 'approvals' }));
      await waitFor('approvals service', async () => (await fetch(`http://127.0.0.1:${approvalsPort}/healthz`)).ok, 30_000, approvals);
      const [batch] = replayBatches(creditDefaultText(f.env), `${f.tmp}/batches`, 6);
      for (const workers of WORKERS) {
        f.step(`${server}: ${workers} worker(s) per pool`);
        const running: ChildProcess[] = [];
        for (const pool of POOLS) for (let i = 0; i < workers; i++) running.push(await f.startWorker(pool));
        for (const n of MODELS) {
          f.step(`${server}, ${workers} per pool: ${n} model(s)`);
          const r = await round(f, server, workers, n, batch);
          rows.push(
            [
              server.padEnd(9),
              String(workers).padStart(7),
              String(n).padStart(7),
              r.perMinute.toFixed(1).padStart(14),
              r.meanWallS.toFixed(2).padStart(12),
              `${r.meanOverheadS.toFixed(2)} / ${r.p50OverheadS.toFixed(2)} / ${r.maxOverheadS.toFixed(2)}`.padStart(24),
              r.meanQueuedS.toFixed(2).padStart(15),
              r.taskP99Ms.toFixed(0).padStart(11),
              `  ${verdict(r.meanOverheadS < TARGET_OVERHEAD_S)}`,
            ].join(' '),
          );
          say(rows[rows.length - 1]);
        }
        for (const w of running) await stopProcess(w, 20_000);
      }
      await stopProcess(approvals);
    },
    { cluster: server === 'cluster' },
  );
}

runMain(async () => {
  const cpus = os.cpus();
  say(`scale: models' loops each running one pipeline (GBDT, 20 trees, depth 3, one 5,000-row batch) to its gate; ${cpus.length} × ${cpus[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  say('server    workers  models  pipelines/min  mean wall s  overhead s mean/p50/max  of it queued s  wft p99 ms  overhead < 1 s');
  const rows: string[] = [];
  for (const server of SERVERS) await benchServer(server, rows);
  say();
  say(`overhead: a pipeline's time from its start to its gate less its activities' own running time; of it queued: its activities' time between scheduled and started,`);
  say(`which is Temporal's dispatch when workers are idle and the wait for a free worker slot when they are busy (one training per gpu worker at a time); wft: workflow task latency, scheduled to completed.`);
  if (cpus.length <= 2) say(`on ${cpus.length} cores the workers, Temporal's servers, PostgreSQL and S3 all compete for the same CPUs: more workers per pool add contention here, not capacity.`);
});
