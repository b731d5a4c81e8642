/**
 * Open-loop load at a fixed rate, in a child process of its own (startLoad
 * runs this file) so that the parent's work does not delay the schedule.
 * Requests go out on schedule whether or not earlier ones have answered
 * (waiting for a free connection if all are busy), so a stall shows up as
 * latency, not as fewer requests. Every request's start and latency are kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { lineChild } from './child-processes';
import { now, sleep } from './timing';
import { KeepAliveConnection } from './keep-alive-connection';
import { pct, sortedOf } from './timing';
import { runMain } from './cli';

export interface LoadConfig {
  /** Base URLs of the replicas, taken in turn. */
  bases: string[];
  /** The request path, the same on every replica. */
  path: string;
  rate: number;
  /** Connections per replica. */
  connections: number;
  /** JSON request bodies, taken in turn. */
  bodies: string[];
  /** Retry a failed request once on the next replica, as a client with a retry policy would. */
  retry: boolean;
}

/** Per request: start (epoch ms), latency ms, HTTP status of the final answer (0: no answer), retried (0/1), version answered. */
const RECORD = 5;

/** The child: runs until "stop" on stdin, then writes the records to out. */
async function generate(cfg: LoadConfig & { out: string }): Promise<void> {
  const targets = cfg.bases.map((b) => {
    const u = new URL(b);
    const idle = Array.from({ length: cfg.connections }, () => new KeepAliveConnection(u.hostname, Number(u.port)));
    const requests = cfg.bodies.map((body) =>
      Buffer.from(`POST ${cfg.path} HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
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

export interface Load {
  /** Stops the load and returns its records. */
  stop(): Promise<Float64Array>;
}

/** Starts a load generator child; its config and records go through files in dir. */
export async function startLoad(cfg: LoadConfig, dir: string): Promise<Load> {
  const out = path.join(dir, `load-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`);
  const cfgPath = `${out}.json`;
  fs.writeFileSync(cfgPath, JSON.stringify({ ...cfg, out }));
  const c = lineChild(__filename, [cfgPath]);
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

/** Requests (from a load generator's records) whose start passes keep: how many, failed, retried, p50, p99 and max latency. */
export function select(records: Float64Array, keep: (start: number) => boolean) {
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

export type Selection = ReturnType<typeof select>;

if (require.main === module) runMain(() => generate(JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))));
