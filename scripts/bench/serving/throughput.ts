/**
 * Part 1: batch-1 throughput and p50/p99 with autocannon: raw
 * onnxruntime-node in-process, the floor of our HTTP stack (a bare Fastify
 * route answering the same request, bare-routes.ts) and the floor under it
 * (the same route on Node's own http), the service with
 * batching off (one request, one run) and the service with micro-batching —
 * the same code, only SERVING_MAX_BATCH and SERVING_MAX_DELAY_MS differ — with
 * CPU per request from /proc.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { toDataset } from '../../../ml/dataset';
import { OnnxScorer } from '../../../ml/scoring';
import type { FeatureSpec } from '../../../specs/model-spec';
import { stopProcess } from '../../../stack/process';
import { lineChild } from '../kit/child-processes';
import { sleep } from '../kit/timing';
import { cpu, type CpuUsage } from '../kit/cpu-meter';
import { predictPath, profileFlags } from '../kit/factory-services';
import { pct, sortedOf } from '../kit/timing';
import { say, verdict } from '../kit/cli';
import { runMain } from '../kit/cli';
import type { ServingBench } from './context';

interface Figures {
  name: string;
  /** CPU microseconds per request: the server process, the load generator, PostgreSQL, everything else. */
  cpu?: { server: number; client: number; pg: number; other: number };
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** The child (this file, run by throughput): raw ONNX Runtime at batch 1 with the same number of concurrent callers, no HTTP. */
async function raw(onnxPath: string, rowsPath: string, seconds: number, connections: number): Promise<void> {
  const input = JSON.parse(fs.readFileSync(rowsPath, 'utf8')) as { features: FeatureSpec[]; rows: number[][] };
  const scorer = await OnnxScorer.load(fs.readFileSync(onnxPath), input);
  const rows = input.rows.map((r) => Float32Array.from(r));
  for (let i = 0; i < 2000; i++) await scorer.score(rows[i % rows.length], 1);
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await scorer.score(rows[next++ % rows.length], 1);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const sorted = sortedOf(latencies);
  const figures: Figures = { name: 'raw onnxruntime-node (in-process)', rps: latencies.length / seconds, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), errors: 0 };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

/** One autocannon run against a replica: every 2xx latency (sub-millisecond, from its per-response event), errors, CPU used. */
interface Run {
  latencies: number[];
  seconds: number;
  errors: number;
  requests: number;
  cpu?: CpuUsage;
}

async function cannon(target: { base: string; path: string; connections: number; bodies: string[] }, seconds: number, meter?: { pid: number; dataDir: string }): Promise<Run> {
  const latencies: number[] = [];
  const stop = meter && cpu.start(meter.pid, meter.dataDir);
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.base,
        connections: target.connections,
        duration: seconds,
        requests: target.bodies.map((body) => ({ method: 'POST', path: target.path, headers: { 'content-type': 'application/json' }, body })),
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

/** Rows per ONNX Runtime call a replica has made, from its serving_batch_rows histogram. */
async function rowsPerCall(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (what: string) => Number(new RegExp(`^serving_batch_rows_${what}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
  return read('sum') / read('count');
}

/** Runs part 1 and prints its table; returns its lines of the targets summary. */
export async function throughput({ options, spec, fixture, onnx, rows, bodies, batching }: ServingBench): Promise<string[]> {
  const { seconds, connections, rounds } = options;
  say();
  say(`1. batch-1 requests, ${connections} connections (autocannon), ${seconds}s per setup in ${rounds} alternating rounds`);
  const onnxPath = path.join(fixture.tmp, 'model.onnx');
  fs.writeFileSync(onnxPath, onnx);
  const rowsPath = path.join(fixture.tmp, 'rows.json');
  const encoded = toDataset(rows, spec);
  const F = spec.features.length;
  fs.writeFileSync(rowsPath, JSON.stringify({ features: spec.features, rows: rows.map((_, i) => Array.from(encoded.x.subarray(i * F, (i + 1) * F))) }));
  fixture.step('part 1: raw onnxruntime-node');
  const rawChild = lineChild(__filename, [onnxPath, rowsPath, String(seconds), String(connections)]);
  const results: Figures[] = [JSON.parse(await rawChild.line((l) => l.startsWith('{'), 'raw benchmark'))];
  await rawChild.exited;
  // Every server runs side by side (an idle one costs nothing) and is measured in alternating rounds,
  // so a change in background load on the machine falls on all alike.
  fixture.step('part 1: starting the floors, the naive and the micro-batching server');
  const naive = { SERVING_MAX_BATCH: '1', SERVING_MAX_DELAY_MS: '0' };
  const bareRoute = async (stack: 'fastify' | 'node') => {
    const bare = lineChild(path.join(__dirname, 'bare-routes.js'), [stack], profileFlags(fixture.profileDir, `floor-${stack}`));
    const port = (await bare.line((l) => l.startsWith('listening '), `bare ${stack} route`)).split(' ')[1];
    return { base: `http://127.0.0.1:${port}`, child: bare.child, stop: () => stopProcess(bare.child) };
  };
  const setups = [
    { name: 'floor: bare Fastify route, same request, answer of the same shape', replica: await bareRoute('fastify'), runs: [] as Run[] },
    { name: "node floor: bare route on Node's http, the same", replica: await bareRoute('node'), runs: [] as Run[] },
    { name: 'naive: same service, SERVING_MAX_BATCH=1 SERVING_MAX_DELAY_MS=0', replica: await fixture.startReplica(naive, 'naive'), runs: [] as Run[] },
    { name: `micro-batching: SERVING_MAX_BATCH=${batching.SERVING_MAX_BATCH} SERVING_MAX_DELAY_MS=${batching.SERVING_MAX_DELAY_MS}`, replica: await fixture.startReplica(batching, 'ours'), runs: [] as Run[] },
  ];
  const target = (base: string) => ({ base, path: predictPath(spec.name), connections, bodies });
  for (const x of setups) await cannon(target(x.replica.base), 2);
  for (let round = 0; round < rounds; round++) {
    // Alternating order, so a change in background load falls on every setup alike.
    for (const x of round % 2 === 0 ? setups : [...setups].reverse()) {
      fixture.step(`part 1: round ${round + 1}/${rounds}, ${x.name.split(':')[0]} server`);
      await sleep(1000);
      x.runs.push(await cannon(target(x.replica.base), seconds / rounds, { pid: x.replica.child.pid!, dataDir: fixture.dataDir }));
    }
  }
  const [naiveCalls, oursCalls] = [await rowsPerCall(setups[2].replica.base), await rowsPerCall(setups[3].replica.base)];
  for (const x of setups) {
    results.push(pooled(x.name, x.runs));
    await x.replica.stop();
  }
  const w = Math.max(...results.map((r) => r.name.length));
  // Clock-tick accounting can leave "other" a hair below zero on an idle machine.
  const us = (v: number | undefined) => (v === undefined ? '' : Math.max(0, v).toFixed(0)).padStart(7);
  say(`   ${'setup'.padEnd(w)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errors'.padStart(6)}   CPU µs/request: ${'server'.padStart(6)} ${'client'.padStart(7)} ${'pg'.padStart(7)} ${'other'.padStart(7)}`);
  for (const r of results) {
    say(`   ${r.name.padEnd(w)} ${r.rps.toFixed(0).padStart(8)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)} ${String(r.errors).padStart(6)}                   ${us(r.cpu?.server)} ${us(r.cpu?.client)} ${us(r.cpu?.pg)} ${us(r.cpu?.other)}`);
  }
  const [, f, nf, n, o] = results;
  const share = (x: Figures) => Math.max(0, x.cpu!.other * x.rps) / (os.cpus().length * 1e6);
  const overFloor = o.cpu!.server / f.cpu!.server;
  const errors = f.errors + nf.errors + n.errors + o.errors;
  say(`   server CPU per request, micro-batching / floor: ${o.cpu!.server.toFixed(0)} / ${f.cpu!.server.toFixed(0)} µs = ${overFloor.toFixed(2)}x; naive / micro-batching: ${(n.cpu!.server / o.cpu!.server).toFixed(2)}x`);
  say(`   the floors, Fastify / Node's http: ${f.cpu!.server.toFixed(0)} / ${nf.cpu!.server.toFixed(0)} µs = ${(f.cpu!.server / nf.cpu!.server).toFixed(2)}x`);
  say(`   rows per ONNX Runtime call over the part: naive ${naiveCalls.toFixed(2)}, micro-batching ${oursCalls.toFixed(2)}`);
  say(`   throughput micro-batching / naive: ${(o.rps / n.rps).toFixed(2)}x (reported as it comes; not a target)`);
  say(`   (client: autocannon in this process; pg: the prediction log's writes; other: the rest of the machine, ${[f, nf, n, o].map((x) => `${(100 * share(x)).toFixed(0)}%`).join(' / ')} of it busy)`);
  return [
    `1. server CPU per request, ours / bare Fastify floor: ${overFloor.toFixed(2)}x (target <= 1.5x): ${verdict(overFloor <= 1.5)}`,
    `1. p99 micro-batching ${o.p99.toFixed(2)} ms vs naive ${n.p99.toFixed(2)} ms (target equal or better): ${verdict(o.p99 <= n.p99)}`,
    `1. errors: ${errors} (target 0): ${verdict(errors === 0)}`,
  ];
}

// The raw side runs in a process of its own, so nothing of this one (autocannon, the stack's clients) shares its event loop or its CPU time.
if (require.main === module) {
  const [onnxPath, rowsPath, seconds, connections] = process.argv.slice(2);
  runMain(() => raw(onnxPath, rowsPath, Number(seconds), Number(connections)));
}
