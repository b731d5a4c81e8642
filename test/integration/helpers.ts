import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { spawn } from 'node:child_process';
import { loadEnv, type FactoryEnv } from '../../config/env';
import { creditDefaultText } from '../../data/credit-default';
import type { WorkerPool } from '../../config/task-queues';
import { findChampion } from '../../db/champion';
import { findModel, upsertModel } from '../../db/models';
import { replayBatches } from '../../data/replay';
import { toInstance, validateBatch } from '../../specs/data-batch';
import type { FeatureValue } from '../../specs/feature-encoding';
import { parseModelSpec, type ModelSpec } from '../../specs/model-spec';
import { withContext, type CliContext } from '../../scripts/cli/context';
import { ingest } from '../../scripts/cli/ingest';
import { requestTraining, waitForStage } from '../../scripts/cli/train';
import { freePort, startProcess, stopProcess, waitFor } from '../../stack/process';

export const ROOT = path.resolve(__dirname, '../../..');

export function testEnv(overrides: Partial<Record<keyof FactoryEnv, string>> = {}): FactoryEnv {
  return loadEnv({ ...process.env, ...overrides });
}

/**
 * The three pools as real worker processes (dist/workers/*.js, or another
 * build's compiled tree), as deployed: nothing of them runs inside Jest's sandbox.
 */
export async function startWorkers(envOverrides: Record<string, string> = {}, pools: WorkerPool[] = ['control', 'cpu', 'gpu'], dist = path.join(ROOT, 'dist')) {
  const logs = path.join(testEnv().FACTORY_DATA_DIR, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  const metricsPorts = Object.fromEntries(await Promise.all(pools.map(async (p) => [p, await freePort()]))) as Record<WorkerPool, number>;
  const children = pools.map((pool) => {
    const child = spawn(process.execPath, [path.join(dist, 'workers', `${pool}.js`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...envOverrides, LOG_LEVEL: 'info', FACTORY_SERVICE: `worker-${pool}`, METRICS_PORT: String(metricsPorts[pool]) },
    });
    const log = fs.createWriteStream(path.join(logs, `worker-${pool}-${process.pid}.log`), { flags: 'a' });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const output = { text: '' };
    child.stderr.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', () => output.text.includes('"msg":"worker started"') && resolve());
      child.once('exit', (code) => reject(new Error(`worker ${pool} exited (${code}) before it started:\n${output.text.slice(-2000)}`)));
    });
    return { pool, child, ready, output };
  });
  await Promise.all(children.map((c) => c.ready));
  return {
    /** The pool's Prometheus exposition. */
    async metrics(pool: WorkerPool): Promise<string> {
      return (await fetch(`http://127.0.0.1:${metricsPorts[pool]}/metrics`)).text();
    },
    /** Waits until a pool's log says something. */
    waitForOutput(pool: WorkerPool, text: string, timeoutMs = 60_000): Promise<true> {
      const c = children.find((w) => w.pool === pool)!;
      return waitUntil(`"${text}" from worker ${pool}`, async () => (c.output.text.includes(text) ? true : undefined), timeoutMs);
    },
    /** What a pool's worker has written to stderr (its log) so far. */
    output(pool: WorkerPool): string {
      return children.find((w) => w.pool === pool)!.output.text;
    },
    /** The pool's process id: Temporal names a worker `<pid>@<host>` in histories. */
    pid(pool: WorkerPool): number {
      return children.find((w) => w.pool === pool)!.child.pid!;
    },
    /** Kills a pool's worker outright, as a crash or a lost host would. */
    kill(pool: WorkerPool): void {
      children.find((w) => w.pool === pool)!.child.kill('SIGKILL');
    },
    async stop() {
      await Promise.all(children.map((c) => stopProcess(c.child, 20_000)));
    },
  };
}

/** A test file's worker pools and the monthly batches, set up before its tests and stopped after. */
export function withWorkers() {
  const state = {} as { workers: Awaited<ReturnType<typeof startWorkers>>; batches: string[] };
  beforeAll(async () => {
    state.workers = await startWorkers();
    state.batches = monthlyBatches();
  });
  afterAll(() => state.workers?.stop());
  return state;
}

/** The credit-default spec trained by the external command trainer (test/fixtures/command-trainer.js): quick, and able to make a deliberately worse model. */
export function commandSpec(name: string, change: (raw: Record<string, any>) => void = () => undefined): ModelSpec {
  return creditSpec(name, (raw) => {
    raw.trainer = { kind: 'command', command: ['node', 'test/fixtures/command-trainer.js'], env: {} };
    change(raw);
  });
}

/** The shipped credit-default spec under a unique name, with test-sized changes. */
export function creditSpec(name: string, change: (raw: Record<string, any>) => void = () => undefined): ModelSpec {
  return shippedSpec('credit-default', name, change);
}

/** A shipped spec (models/<file>.yaml) under a unique name, with test-sized changes. */
export function shippedSpec(file: string, name: string, change: (raw: Record<string, any>) => void = () => undefined): ModelSpec {
  const raw = parse(fs.readFileSync(path.join(ROOT, `models/${file}.yaml`), 'utf8'));
  raw.name = name;
  // Rollouts at test speed: seconds per phase, a guard reading every second.
  // Candidates here learn from one or two batches, so their scores move more than production retrains would.
  // No automatic triggers and no superseding unless a test asks: they would start pipelines on their own.
  raw.triggers = {};
  raw.approval.supersede = false;
  raw.rollout = { shadow: '2s', shadowSample: 1, canaryPercent: 30, bake: '3s', watch: '2s', checkEvery: '1s', minRequests: 100, replicaTimeout: '5s', guard: { maxScorePsi: 0.5 } };
  change(raw);
  return parseModelSpec(raw);
}

let counter = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Monthly batches of the shipped data, made once per test file. */
export function monthlyBatches(): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'factory-batches-'));
  return replayBatches(creditDefaultText(testEnv()), dir, 6);
}

export function ctx<T>(fn: (c: CliContext) => Promise<T>, env = testEnv()): Promise<T> {
  return withContext(fn, env);
}

/** A person's token from the test directory (global-setup.ts): alice, bob and carol approve; mallory does not. */
export function tokenOf(person: string): string {
  const token = (JSON.parse(process.env.FACTORY_TEST_TOKENS ?? '{}') as Record<string, string>)[person];
  if (!token) throw new Error(`no test token for "${person}"`);
  return token;
}

/** The same CLI context acting as `person`: the CLI's decisions carry that person's token. */
export const as = (c: CliContext, person: string): CliContext => ({ ...c, env: { ...c.env, FACTORY_TOKEN: tokenOf(person) } });

/** The model's champion version, as the registry reads it (db/champion.ts). */
export async function championVersion(name: string): Promise<number | undefined> {
  return ctx(async (c) => (await findChampion(c.db, (await findModel(c.db, name)).id))?.version);
}

/**
 * A workflow history as searchable text, its payloads decoded: the JSON of a
 * history holds each payload's bytes as base64, which no plain-text search of
 * it would ever match.
 */
export function historyText(history: unknown): string {
  const json = JSON.stringify(history);
  const decoded: string[] = [];
  for (const m of json.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)) decoded.push(Buffer.from(m[1], 'base64').toString('utf8'));
  for (const m of json.matchAll(/"data":\{"type":"Buffer","data":\[([\d,]*)\]\}/g)) decoded.push(Buffer.from(m[1].split(',').filter(Boolean).map(Number)).toString('utf8'));
  return `${json}\n${decoded.join('\n')}`;
}

/** A candidate of the model at its gate: the batch ingested, a manual training requested, the pipeline waited for; its workflow id. */
export async function toGate(c: CliContext, model: string, batch: string): Promise<string> {
  const ingested = await ingest(c, model, batch);
  if (ingested.status !== 'accepted') throw new Error(`${batch} was ${ingested.status}`);
  await requestTraining(c, model, { reason: 'manual', requestedBy: 'test' });
  return (await waitForStage(c, model, ['awaiting-approval'], 120_000)).workflowId;
}

export async function registerSpec(spec: ModelSpec): Promise<void> {
  await ctx((c) => upsertModel(c.db, spec, 'test'));
}

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A factory service (dist/<entry>) as a real process on a free port, ready once its /healthz answers. */
export async function startService(entry: string, portVariable: 'SERVING_PORT' | 'INTAKE_PORT' | 'APPROVALS_PORT' | 'CODEC_PORT' | 'EDGE_GATEWAY_PORT', env: Record<string, string> = {}) {
  const port = await freePort();
  const logFile = path.join(testEnv().FACTORY_DATA_DIR, 'logs', `${path.basename(path.dirname(entry))}-${port}.log`);
  const child = startProcess(process.execPath, [path.join(ROOT, 'dist', entry)], logFile, { ...process.env, [portVariable]: String(port), ...env });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${entry} on ${port}`, async () => (await fetch(`${base}/healthz`)).ok, 30_000, child, logFile);
  return { base, logFile, stop: () => stopProcess(child) };
}

/** A serving replica (reporting every half second, so rollouts see it quickly). */
export const startServing = (env: Record<string, string> = {}) => startService('serving/main.js', 'SERVING_PORT', { SERVING_HEARTBEAT_MS: '500', ...env });

/** Real client rows from a batch file of the shipped spec, as requests send them: each feature by name, and the row's ID. */
export function rowsFrom(batch: string, count = 1): Record<string, FeatureValue | null | undefined>[] {
  const spec = creditSpec('rows');
  return validateBatch(spec, fs.readFileSync(batch, 'utf8')).rows.slice(0, count).map((r) => toInstance(spec, r));
}

/**
 * Steady client traffic against one or more replicas, as a client with a
 * retry would send it: a request that fails (connection refused, 5xx) is retried
 * once on the next replica. Rows cycle through the given ones, so score
 * distributions are real ones. Counts what the client finally saw.
 */
export function sendTraffic(bases: string[], model: string, rows: Record<string, unknown>[], opts: { token?: string; clients?: number } = {}) {
  const stats = { ok: 0, failed: 0, retried: 0, versions: new Map<number, number>() };
  let running = true;
  let sent = 0;
  const once = async (base: string) => {
    const row = rows[sent++ % rows.length];
    const res = await fetch(`${base}/v1/models/${model}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(opts.token && { authorization: `Bearer ${opts.token}` }) },
      body: JSON.stringify({ instances: [row] }),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return ((await res.json()) as { version: number }).version;
  };
  const client = async (start: number) => {
    for (let i = start; running; i++) {
      let version: number | undefined;
      try {
        version = await once(bases[i % bases.length]);
      } catch {
        stats.retried++;
        version = await once(bases[(i + 1) % bases.length]).catch(() => undefined);
      }
      if (version === undefined) stats.failed++;
      else {
        stats.ok++;
        stats.versions.set(version, (stats.versions.get(version) ?? 0) + 1);
      }
    }
  };
  const clients = Array.from({ length: opts.clients ?? 4 }, (_, i) => client(i));
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(clients);
      return stats;
    },
  };
}
