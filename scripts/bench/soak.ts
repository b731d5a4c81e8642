/**
 * Soak (issue 12): many models' loops on one private stack on loopback, with
 * continuous ingestion and prediction traffic, for a bounded time. Every
 * process is the real one (Temporal dev server, embedded PostgreSQL,
 * versitygw, the three worker pools, the approvals service, a serving
 * replica); batches go through the CLI's ingest, retrains start from the
 * spec's row threshold, an approver approves each candidate through the
 * approvals service with a signed decision, and rollouts run under traffic.
 *
 *   node dist/scripts/bench/soak.js [--models 20] [--minutes 10]
 *
 * Prints: workflows by final status (target: none failed), rows in = rows
 * accepted + rows quarantined (nothing lost), pipelines started vs training
 * requests (no doubles), prediction requests failed, and the RSS of every
 * process after warm-up and at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnv } from '../../config/env';
import { loopStateQuery, loopWorkflowId, pipelineStatusQuery } from '../../contracts/messages';
import { creditDefaultText } from '../../data/credit-default';
import { readCsv, writeCsv } from '../../data/csv';
import { replayBatches } from '../../data/replay';
import { upsertModel } from '../../db/models';
import { addPerson, issueToken } from '../../people/directory';
import { decide } from '../../scripts/cli/approval';
import { withContext } from '../../scripts/cli/context';
import { ingest } from '../../scripts/cli/ingest';
import { toInstance, validateBatch } from '../../specs/data-batch';
import { freePort, startProcess, waitFor } from '../../stack/process';
import { track } from './kit/child-processes';
import { arg, runMain, say, verdict } from './kit/cli';
import { predictPath } from './kit/factory-services';
import { ROOT, shippedSpec } from './kit/repo';
import { withStackFixture } from './kit/stack-fixture';
import { sleep } from './kit/timing';

const MODELS = Number(arg('models', '20'));
const MINUTES = Number(arg('minutes', '10'));
const MONTHS = 12;
/** Batches stop arriving at this share of the run, so the last retrains can settle before the figures are taken. */
const FEED_SHARE = 0.8;

const specOf = (i: number) =>
  shippedSpec((raw) => {
    raw.name = `soak-${String(i).padStart(2, '0')}`;
    // Small models: the soak is about the loop, not the trainer.
    Object.assign(raw.trainer, { trees: 30, maxDepth: 4 });
    // A retrain per two monthly batches; a candidate still waiting when the next one is asked for is superseded.
    raw.triggers = { rows: 5000 };
    raw.approval.supersede = true;
    // Rollouts at soak speed; traffic is shared by every model, so evidence is thin and a rollout promotes at maxDuration.
    raw.rollout = { shadow: '2s', canaryPercent: 30, bake: '3s', watch: '1s', checkEvery: '1s', minRequests: 50, replicaTimeout: '5s', maxDuration: '40s', onNoEvidence: 'promote', guard: { maxScorePsi: 10 } };
  });

/** Every process this one started, directly or not, by name, with its resident memory. */
function processTree(): { pid: number; name: string; rssMb: number }[] {
  const parents = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (name) state ppid …: the name may hold spaces and parentheses, so read after its last ')'.
      parents.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended while the list was read.
    }
  }
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) if (mine.has(ppid) && !mine.has(pid)) (mine.add(pid), (grew = true));
  }
  return [...mine].flatMap((pid) => {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (!rss) return [];
      const script = cmd.find((a) => a.endsWith('.js'));
      const name = pid === process.pid ? 'soak driver' : script ? path.relative(path.join(ROOT, 'dist'), script) : path.basename(cmd[0] ?? '?');
      return [{ pid, name, rssMb: Number(rss[1]) / 1024 }];
    } catch {
      return [];
    }
  });
}

async function main(): Promise<void> {
  await withStackFixture('bench-soak', undefined, async (fx) => {
    const startedAt = Date.now();
    const endAt = startedAt + MINUTES * 60_000;

    fx.step('an approver and the approvals service');
    await addPerson(fx.db, { id: 'soak-approver', displayName: 'Soak Approver', groups: ['model-approvers'] }, 'soak');
    const approvalsPort = await freePort();
    Object.assign(process.env, { FACTORY_TOKEN: await issueToken(fx.db, 'soak-approver', 'soak'), APPROVALS_PORT: String(approvalsPort), FACTORY_USER: 'soak' });
    const approvalsLog = path.join(fx.dataDir, 'logs', 'approvals.log');
    const approvals = track(startProcess(process.execPath, [path.join(ROOT, 'dist/approvals/main.js')], approvalsLog, { ...process.env, FACTORY_SERVICE: 'approvals' }));
    await waitFor('the approvals service', async () => (await fetch(`http://127.0.0.1:${approvalsPort}/healthz`)).ok, 30_000, approvals, approvalsLog);

    fx.step('the worker pools and a serving replica');
    await Promise.all((['control', 'cpu', 'gpu'] as const).map((pool) => fx.startWorker(pool)));
    const replica = await fx.startReplica({ SERVING_POLL_MS: '2000' }, 'soak', '/healthz');
    const env = loadEnv();

    fx.step(`${MODELS} models, ${MONTHS} monthly batches each (one in six with a poisoned cell)`);
    const specs = Array.from({ length: MODELS }, (_, i) => specOf(i));
    for (const spec of specs) await upsertModel(fx.db, spec, 'soak');
    const months = replayBatches(creditDefaultText(env), fx.tmp, MONTHS);
    const poisoned = months.map((file) => {
      const records = readCsv(fs.readFileSync(file, 'utf8')).map((r) => r.cells);
      records[3][1] = 'lots';
      const out = file.replace(/\.csv$/, '-poisoned.csv');
      fs.writeFileSync(out, writeCsv(records));
      return out;
    });
    const feed = specs.flatMap((spec, i) => Array.from({ length: MONTHS }, (_, m) => ({ model: spec.name, file: (i + m) % 6 === 5 ? poisoned[m] : months[m], month: m }))).sort((a, b) => a.month - b.month);
    const rowsOf = (file: string) => readCsv(fs.readFileSync(file, 'utf8')).length - 1;
    const test = validateBatch(specs[0], fs.readFileSync(months[MONTHS - 1], 'utf8')).rows.slice(0, 300).map((r) => toInstance(specs[0], r));

    const counts = { rowsIn: 0, batches: 0, accepted: 0, quarantined: 0, ingestErrors: 0, approvals: 0, approvalsRefused: 0, requests: 0, failed: 0, notServed: 0 };
    let rss: { at: string; tree: ReturnType<typeof processTree> } | undefined;

    await withContext(async (ctx) => {
      const ingestion = (async () => {
        const gap = (FEED_SHARE * MINUTES * 60_000) / feed.length;
        for (const [n, b] of feed.entries()) {
          await sleep(Math.max(0, startedAt + (n + 1) * gap - Date.now()));
          counts.rowsIn += rowsOf(b.file);
          counts.batches++;
          const outcome = await ingest(ctx, b.model, b.file).catch((err: Error) => (counts.ingestErrors++, fx.step(`ingest failed: ${err.message}`), undefined));
          if (outcome) counts[outcome.status]++;
        }
      })();

      const decided = new Set<string>();
      const approver = (async () => {
        while (Date.now() < endAt) {
          for (const spec of specs) {
            const state = await ctx.client.workflow.getHandle(loopWorkflowId(spec.name)).query(loopStateQuery).catch(() => undefined);
            if (!state?.running) continue;
            const status = await ctx.client.workflow.getHandle(state.running).query(pipelineStatusQuery).catch(() => undefined);
            if (status?.stage !== 'awaiting-approval' || status.version === undefined || decided.has(state.running)) continue;
            decided.add(state.running);
            await decide(ctx, 'approve', spec.name, String(status.version), { comment: 'soak' }, 0).then(
              () => counts.approvals++,
              () => counts.approvalsRefused++,
            );
          }
          await sleep(2_000);
        }
      })();

      const traffic = Array.from({ length: 4 }, async (_, c) => {
        for (let i = c; Date.now() < endAt; i += 4) {
          const model = specs[i % MODELS].name;
          const res = await fetch(`${replica.base}${predictPath(model)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [test[i % test.length]] }) }).catch(() => undefined);
          // A model without a champion yet answers 404: not served, not failed.
          if (res?.status === 404) counts.notServed++;
          else if (res?.status === 200) counts.requests++;
          else counts.failed++;
          await res?.arrayBuffer().catch(() => undefined);
          if (!rss && Date.now() - startedAt > 0.25 * MINUTES * 60_000) rss = { at: `${((Date.now() - startedAt) / 1000).toFixed(0)} s`, tree: processTree() };
        }
      });

      const progress = setInterval(() => fx.step(`batches ${counts.batches}/${feed.length}, approvals ${counts.approvals}, requests ${counts.requests} ok / ${counts.failed} failed`), 30_000);
      await Promise.all([ingestion, approver, ...traffic]);
      clearInterval(progress);
      const endRss = processTree();

      fx.step('settling: waiting up to 3 minutes for every loop to go quiet');
      const settleBy = Date.now() + 180_000;
      for (const spec of specs) {
        for (;;) {
          const state = await ctx.client.workflow.getHandle(loopWorkflowId(spec.name)).query(loopStateQuery).catch(() => undefined);
          const busy = state?.rollingOut !== undefined || (state?.running !== undefined && (await ctx.client.workflow.getHandle(state.running).query(pipelineStatusQuery).catch(() => undefined))?.stage !== 'awaiting-approval');
          if (!busy || Date.now() > settleBy) break;
          await sleep(2_000);
        }
      }

      const byStatus = new Map<string, number>();
      for await (const wf of ctx.client.workflow.list()) byStatus.set(wf.status.name, (byStatus.get(wf.status.name) ?? 0) + 1);
      const failed = ['FAILED', 'TIMED_OUT', 'TERMINATED'].reduce((n, s) => n + (byStatus.get(s) ?? 0), 0);
      const soakModels = specs.map((s) => s.name);
      const rows = await ctx.db.query<{ status: string; rows: string; batches: string }>(
        'SELECT b.status, sum(b.row_count) AS rows, count(*) AS batches FROM data_batches b JOIN models m ON m.id = b.model_id WHERE m.name = ANY($1) GROUP BY b.status',
        [soakModels],
      );
      const stored = Object.fromEntries(rows.rows.map((r) => [r.status, { rows: Number(r.rows), batches: Number(r.batches) }]));
      const accepted = stored.accepted ?? { rows: 0, batches: 0 };
      const quarantined = stored.quarantined ?? { rows: 0, batches: 0 };
      const requests = await ctx.db.query<{ coalesced: boolean; n: number }>(
        "SELECT (details->>'coalesced')::boolean AS coalesced, count(*)::int AS n FROM audit_events WHERE action = 'pipeline.request' AND model = ANY($1) GROUP BY 1",
        [soakModels],
      );
      const asked = requests.rows.reduce((n, r) => n + r.n, 0);
      const coalesced = requests.rows.find((r) => r.coalesced)?.n ?? 0;
      let pipelines = 0;
      for await (const _ of ctx.client.workflow.list({ query: 'WorkflowType = "trainingPipeline"' })) pipelines++;
      const versions = await ctx.db.query<{ n: number; champions: number }>(
        "SELECT count(*)::int AS n, count(*) FILTER (WHERE v.status = 'champion')::int AS champions FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = ANY($1)",
        [soakModels],
      );

      say(`soak: ${MODELS} models' loops, ${MINUTES} min on loopback; ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
      say(`workflows by final status: ${[...byStatus].map(([s, n]) => `${s.toLowerCase()} ${n}`).join(', ')}; failed, timed out or terminated: ${failed} (target 0: ${verdict(failed === 0)})`);
      say(`rows in ${counts.rowsIn} (${counts.batches} batches) = accepted ${accepted.rows} (${accepted.batches} batches) + quarantined ${quarantined.rows} (${quarantined.batches} batches): ${verdict(counts.rowsIn === accepted.rows + quarantined.rows && counts.ingestErrors === 0)} (nothing lost; ${counts.ingestErrors} ingests failed)`);
      say(`training requests ${asked} (${coalesced} while a pipeline ran, coalesced into its follow-up) → pipelines started ${pipelines}: ${verdict(pipelines <= asked && pipelines >= asked - coalesced)} (no doubles); versions registered ${versions.rows[0].n}, champions ${versions.rows[0].champions} of ${MODELS}`);
      say(`approvals ${counts.approvals} (refused ${counts.approvalsRefused}, e.g. superseded first); prediction requests ${counts.requests} answered, ${counts.failed} failed (${verdict(counts.failed === 0)}), ${counts.notServed} for models with no champion yet`);
      say(`RSS per process, MiB: after warm-up (${rss?.at ?? 'not reached'}) → end (PostgreSQL's processes summed, shared buffers counted in each)`);
      const grouped = (tree: ReturnType<typeof processTree>) => {
        const g = new Map<string, number>();
        for (const p of tree) {
          const name = p.name.startsWith('postgres') ? 'postgres (all processes)' : p.name;
          g.set(name, (g.get(name) ?? 0) + p.rssMb);
        }
        return g;
      };
      const before = grouped(rss?.tree ?? []);
      for (const [name, mb] of [...grouped(endRss)].sort(([a], [b]) => a.localeCompare(b))) {
        const b = before.get(name);
        say(`  ${name.padEnd(26)} ${b ? b.toFixed(0).padStart(6) : '     –'} → ${mb.toFixed(0).padStart(6)}${b ? `  (${mb >= b ? '+' : ''}${(((mb - b) / b) * 100).toFixed(0)}%)` : ''}`);
      }
    }, env);
  });
}

runMain(main);
