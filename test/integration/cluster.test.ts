import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { chromium } from 'playwright-core';
import { connections, dataPaths } from '../../config/env';
import { temporalTls } from '../../config/temporal-connection';
import type { PipelineOutcome } from '../../contracts/payloads';
import { loopStateQuery, loopWorkflowId, rolloutStatusQuery, rolloutWorkflowId } from '../../contracts/messages';
import { addPerson, issueToken } from '../../people/directory';
import { ENCRYPTED_ENCODING } from '../../payloads/codec';
import { decide } from '../../scripts/cli/approval';
import { makeCurrent } from '../../scripts/cli/deployment';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { clientTlsEnv, ensureClusterCerts } from '../../stack/certs';
import { freePort } from '../../stack/process';
import { startTemporalCluster, type TemporalCluster } from '../../stack/temporal-cluster';
import { as, commandSpec, creditSpec, ctx, monthlyBatches, registerSpec, ROOT, rowsFrom, sendTraffic, startServing, startService, startWorkers, testEnv, toGate, uniqueName, waitUntil } from './helpers';

type Workers = Awaited<ReturnType<typeof startWorkers>>;
type History = Awaited<ReturnType<Connection['workflowService']['getWorkflowExecutionHistory']>>['history'];

/**
 * The production shape on one machine: Temporal's frontend, history, matching
 * and worker services as four processes on PostgreSQL, mutual TLS on every
 * connection, payloads encrypted, two workers per pool, and its own Web UI.
 */
describe('the factory on a Temporal cluster', () => {
  const base = testEnv();
  const overrides: Record<string, string> = {};
  const payloadKey = `cluster-test:${randomBytes(32).toString('base64')}`;
  const stops: (() => Promise<unknown>)[] = [];
  let cluster: TemporalCluster;
  let codecUrl: string;
  let first: Workers;
  let second: Workers;
  const batches = monthlyBatches();
  const fleet = Array.from({ length: 10 }, (_, i) => uniqueName(`fleet${i}`));
  const env = () => testEnv(overrides);
  const inCluster = <T>(fn: Parameters<typeof ctx<T>>[0]) => ctx(fn, env());
  const rawHistory = async (workflowId: string): Promise<History> => {
    const connection = await Connection.connect({ address: overrides.TEMPORAL_ADDRESS, tls: temporalTls(env()) });
    try {
      return (await connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } })).history;
    } finally {
      await connection.close();
    }
  };

  beforeAll(async () => {
    const certs = ensureClusterCerts(path.join(base.FACTORY_DATA_DIR, 'cluster', 'tls'));
    Object.assign(overrides, {
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      TEMPORAL_UI_PORT: String(await freePort()),
      FACTORY_PAYLOAD_KEYS: payloadKey,
      ...clientTlsEnv(certs),
    });
    const codec = await startService('payloads/main.js', 'CODEC_PORT', overrides);
    stops.push(codec.stop);
    codecUrl = codec.base;
    const pg = new URL(connections(base).databaseUrl);
    pg.pathname = '/temporal_cluster';
    cluster = await startTemporalCluster({
      address: overrides.TEMPORAL_ADDRESS,
      uiPort: Number(overrides.TEMPORAL_UI_PORT),
      namespace: 'default',
      databaseUrl: pg.toString(),
      logsDir: dataPaths(base).logs,
      certs,
      codecUrl,
    });
    stops.push(cluster.stop);
    const approvals = await startService('approvals/main.js', 'APPROVALS_PORT', overrides);
    stops.push(approvals.stop);
    overrides.FACTORY_APPROVALS_URL = approvals.base;
    first = await startWorkers(overrides);
    second = await startWorkers(overrides);
    stops.push(() => first.stop(), () => second.stop());
  }, 240_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  test('10 models\' loops at once, on two workers per pool, all reach their approval gates', async () => {
    for (const [i, name] of fleet.entries()) {
      // fleet0's canary lasts long enough to kill a control worker in it (below).
      await registerSpec(
        commandSpec(name, (raw) => {
          // Ten evaluations share two cores here, so their latency measurement says nothing about the model.
          raw.policy.floors.latencyP99Ms = 1000;
          if (i === 0) Object.assign(raw.rollout, { bake: '8s' });
        }),
      );
    }
    const started = Date.now();
    const gates = await inCluster((c) => Promise.all(fleet.map((name, i) => toGate(c, name, batches[i % 3]))));
    const seconds = (Date.now() - started) / 1000;
    expect(new Set(gates).size).toBe(10);
    // Both workers of the gpu and the cpu pool took work.
    const count = (text: string, metric: string) => [...text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    const trainings = await Promise.all([first, second].map(async (w) => count(await w.metrics('gpu'), 'factory_training_seconds_count')));
    const batchesValidated = await Promise.all([first, second].map(async (w) => Object.values((await w.metrics('cpu')).match(/^factory_batches_total\{[^}]*\} \d+/gm) ?? []).length));
    console.log(`cluster: 10 models to their gates in ${seconds.toFixed(0)} s; trainings per gpu worker ${trainings.join('/')}, models validated per cpu worker ${batchesValidated.join('/')}`);
    expect(Math.min(...trainings)).toBeGreaterThan(0);
    expect(Math.min(...batchesValidated)).toBeGreaterThan(0);
  }, 300_000);

  test('payloads are encrypted in the cluster: no model name or metric in a history read straight from the server; the codec endpoint gives them back', async () => {
    const name = fleet[1];
    const pipeline = await inCluster(async (c) => (await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)).running!);
    const history = await rawHistory(pipeline);
    const payloads: { where: string; metadata: Record<string, Uint8Array>; data: Uint8Array }[] = [];
    const collect = (node: unknown, where: string) => {
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o.metadata && o.data instanceof Uint8Array) payloads.push({ where, metadata: o.metadata as Record<string, Uint8Array>, data: o.data });
      // Search attributes are indexed, so they stay readable by design (the model's name, stage, trigger and version);
      // a patch marker's details are the SDK's own record of which code path ran (its patch id), not the workflow's data.
      if (o.markerName === 'core_patch') return;
      for (const [k, v] of Object.entries(o)) if (k !== 'searchAttributes') collect(v, /^\d+$/.test(k) ? where : k);
    };
    collect(history, 'history');
    expect(payloads.length).toBeGreaterThan(10);
    const plainPayloads = payloads.filter((p) => Buffer.from(p.metadata.encoding ?? []).toString() !== ENCRYPTED_ENCODING).map((p) => `${p.where}: ${Buffer.from(p.data).toString().slice(0, 80)}`);
    expect(plainPayloads).toEqual([]);
    const stored = payloads.map((p) => Buffer.from(p.data).toString('latin1')).join('\n');
    for (const plain of [name, 'credit-default', 'auc', 'logLoss', 'trainCandidate']) expect(stored.includes(plain) ? plain : 'absent').toBe('absent');

    const ui = `http://127.0.0.1:${overrides.TEMPORAL_UI_PORT}`;
    const decodeBody = JSON.stringify({ payloads: payloads.slice(0, 5).map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(p.data).toString('base64') })) });
    const refused = await fetch(`${codecUrl}/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: decodeBody });
    expect(refused.status).toBe(403);
    const decoded = await fetch(`${codecUrl}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ui }, body: decodeBody });
    expect(decoded.status).toBe(200);
    const text = ((await decoded.json()) as { payloads: { data: string }[] }).payloads.map((p) => Buffer.from(p.data, 'base64').toString()).join('\n');
    expect(text).toContain(name);
    // The key itself is in no log of the run.
    const logs = dataPaths(base).logs;
    for (const f of fs.readdirSync(logs)) expect(fs.readFileSync(path.join(logs, f), 'utf8').includes(payloadKey.split(':')[1]) ? f : 'clean').toBe('clean');
  });

  test("the cluster's Web UI lists the pipelines and shows a pipeline's details, decrypted through the codec endpoint", async () => {
    const name = fleet[1];
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const pipeline = await inCluster(async (c) => (await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)).running!);
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(`${cluster.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('FactoryStage="awaiting-approval"')}`);
      for (const n of fleet.slice(1, 4)) await page.getByRole('link', { name: new RegExp(`^${n}-pipeline-`) }).first().waitFor({ timeout: 30_000 });
      await page.goto(`${cluster.uiUrl}/namespaces/default/workflows/${pipeline}`);
      await page.getByText('trainingPipeline').first().waitFor({ timeout: 30_000 });
      await page.getByRole('link', { name: 'User Metadata' }).or(page.getByText('User Metadata')).first().click();
      const details = await waitUntil('the current details frame', async () => page.frames().find((f) => decodeURIComponent(f.url()).includes('stage **awaiting-approval**')), 30_000);
      await details.getByText(`factory approve ${name} 1`).first().waitFor({ timeout: 10_000 });
      const shots = path.join(ROOT, '.factory/test-artifacts');
      fs.mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'cluster-web-ui-pipeline.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  test('a gpu worker killed mid-training: the other gpu worker resumes from the last checkpoint in S3', async () => {
    const name = uniqueName('cluster-resume');
    await registerSpec(
      creditSpec(name, (raw) => {
        // Long enough that a checkpoint reaches the server in a (throttled) heartbeat well before training ends.
        raw.trainer = { kind: 'gbdt', trees: 4000, learningRate: 0.0045, maxDepth: 6, earlyStoppingRounds: 0 };
        raw.policy = { floors: { auc: 0.6 } };
      }),
    );
    await inCluster(async (c) => {
      for (const b of batches.slice(0, 2)) expect((await ingest(c, name, b)).status).toBe('accepted');
      await requestTraining(c, name, { reason: 'manual', requestedBy: 'test' });
      const pipeline = await waitUntil('the pipeline', async () => (await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)).running);
      await waitUntil('a checkpoint in the training heartbeat', async () => {
        const d = await c.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: pipeline } });
        const beat = d.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
        // The heartbeat is encrypted too: the client's codec reads it.
        return beat && (await c.client.options.loadedDataConverter.payloadCodecs[0].decode([beat]).then(([p]) => JSON.parse(Buffer.from(p.data!).toString()))).checkpoint ? true : undefined;
      }, 90_000);
      const [victim, survivor] = first.output('gpu').includes(`training ${name}:`) ? [first, second] : [second, first];
      victim.kill('gpu');
      await waitForStage(c, name, ['awaiting-approval'], 150_000);
      expect(survivor.output('gpu')).toContain('resuming training from checkpoint');
      const run = await c.db.query('SELECT t.metrics FROM training_runs t JOIN models m ON m.id = t.model_id WHERE m.name = $1', [name]);
      expect(run.rows[0].metrics.resumedFromTree).toBeGreaterThanOrEqual(25);
      expect(run.rows[0].metrics.trees).toBe(4000);
      console.log(`fault matrix:\n| gpu worker killed mid-training (cluster, two gpu workers) | the other resumes from the last checkpoint | resumed from tree ${run.rows[0].metrics.resumedFromTree} of 4000 on the other worker; candidate at its gate |`);
    });
  }, 240_000);

  test('a control worker killed mid-rollout: the other control worker carries the rollout to its end', async () => {
    const name = fleet[0];
    const replica = await startServing();
    let traffic: ReturnType<typeof sendTraffic> | undefined;
    try {
      await inCluster(async (c) => {
        const pipeline = await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery);
        await decide(as(c, 'alice'), 'approve', name, '1', {}, 0);
        expect(await c.client.workflow.getHandle(pipeline.running!).result()).toMatchObject({ status: 'promoted', version: 1 });
        await waitUntil('the replica to serve v1', async () => ((await (await fetch(`${replica.base}/readyz`)).json()) as { models: Record<string, unknown> }).models[name], 30_000);
        traffic = sendTraffic([replica.base], name, rowsFrom(batches[5], 300));
        const second2 = await toGate(c, name, batches[3]);
        await decide(as(c, 'alice'), 'approve', name, '2', {}, 0);
        const rollout = c.client.workflow.getHandle(rolloutWorkflowId(name, 2));
        await waitUntil('the canary', async () => ((await rollout.query(rolloutStatusQuery)).phase === 'canary' ? true : undefined), 90_000);
        // The control worker that ran the rollout's last workflow task holds it in its cache: that one dies.
        const history = await rawHistory(rolloutWorkflowId(name, 2));
        const identity = history!.events!.filter((e) => e.workflowTaskStartedEventAttributes).at(-1)!.workflowTaskStartedEventAttributes!.identity!;
        const victim = [first, second].find((w) => identity.startsWith(`${w.pid('control')}@`));
        expect(victim).toBeDefined();
        victim!.kill('control');
        const killedAt = Date.now();
        expect(await c.client.workflow.getHandle(second2).result()).toMatchObject({ status: 'promoted', version: 2, previousChampion: 1 });
        expect((await traffic.stop()).failed).toBe(0);
        console.log(`fault matrix:\n| control worker killed mid-rollout (cluster, two control workers) | continues from history; split and alias consistent | the one running it killed in the canary, promoted v2 ${((Date.now() - killedAt) / 1000).toFixed(0)} s later on the other; ${traffic.stats.ok} requests, 0 failed |`);
      });
    } finally {
      await traffic?.stop();
      await replica.stop();
    }
  }, 240_000);

  test('a new build deployed while pipelines wait at their gates: they finish on the build they started on, new ones start on the new build, nothing fails', async () => {
    // Build B: this build with a changed pipeline (a timer before anything else), as a release would change it.
    const rootB = path.join(base.FACTORY_DATA_DIR, 'build-b');
    const distB = path.join(rootB, 'dist');
    fs.cpSync(path.join(ROOT, 'dist'), distB, { recursive: true });
    // What a build reads beside its compiled code: migrations, shipped specs, the test trainer.
    for (const dir of ['db', 'models', 'test']) fs.symlinkSync(path.join(ROOT, dir), path.join(rootB, dir));
    const pipelineFile = path.join(distB, 'workflows', 'training-pipeline.js');
    const code = fs.readFileSync(pipelineFile, 'utf8');
    const withTimer = code.replace('async function trainingPipeline(input) {', 'async function trainingPipeline(input) {\n    await (0, workflow_1.sleep)(1);');
    expect(withTimer).not.toBe(code);
    fs.writeFileSync(pipelineFile, withTimer);
    const buildB = await startWorkers(overrides, ['control', 'cpu', 'gpu'], distB);
    stops.push(() => buildB.stop());
    const buildIdOf = (w: Workers) => /"buildId":"([^"]+)","msg":"worker started"/.exec(w.output('control'))?.[1];
    const [idA, idB] = [buildIdOf(second), buildIdOf(buildB)];
    expect(idA).toBeDefined();
    expect(idB).toBeDefined();
    expect(idB).not.toBe(idA);

    await inCluster(async (c) => {
      await addPerson(c.db, { id: 'release-admin', displayName: 'Release Admin', groups: ['admins'] }, 'test');
      const admin = { ...c, env: { ...c.env, FACTORY_TOKEN: await issueToken(c.db, 'release-admin', 'test') } };
      const waiting = await Promise.all(fleet.slice(2, 4).map(async (name) => (await c.client.workflow.getHandle(loopWorkflowId(name)).query(loopStateQuery)).running!));
      expect(await makeCurrent(admin, idB!)).toContain(`now start on ${idB}`);

      // The pipelines started on A are approved now, with B current: they finish on A.
      for (const name of fleet.slice(2, 4)) await decide(as(c, 'bob'), 'approve', name, '1', {}, 0);
      for (const id of waiting) expect(await c.client.workflow.getHandle(id).result()).toMatchObject({ status: 'promoted', version: 1 } satisfies Partial<PipelineOutcome>);
      // A new pipeline starts on B.
      const fresh = uniqueName('on-build-b');
      await registerSpec(commandSpec(fresh));
      const onB = await toGate(c, fresh, batches[4]);

      const buildsOf = async (id: string) => {
        const h = await rawHistory(id);
        const events = h!.events!;
        expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
        return {
          builds: new Set(events.flatMap((e) => (e.workflowTaskCompletedEventAttributes ? [e.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId] : []))),
          timerFirst: Boolean(events.find((e) => e.timerStartedEventAttributes || e.activityTaskScheduledEventAttributes)?.timerStartedEventAttributes),
        };
      };
      for (const id of waiting) expect(await buildsOf(id)).toEqual({ builds: new Set([idA]), timerFirst: false });
      expect(await buildsOf(onB)).toEqual({ builds: new Set([idB]), timerFirst: true });
      console.log(`cluster: build ${idB} made current while 2 pipelines of ${idA} waited at their gates; both finished on ${idA}, the next pipeline ran on ${idB}`);
    });
  }, 240_000);
});
