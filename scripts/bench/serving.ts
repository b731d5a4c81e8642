/**
 * Serving benchmark, part 1 of issue 4: throughput and latency at batch 1 for
 * raw onnxruntime-node in-process, a naive one-request-one-run server, and the
 * micro-batching server — the same HTTP code, batching off vs on — measured in
 * one run with autocannon from a separate process.
 *
 *   node dist/scripts/bench/serving.js [--seconds 10] [--connections 64]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { parse } from 'yaml';
import { creditDefaultCsv, loadEnv } from '../../config/env';
import { toDataset } from '../../ml/dataset';
import { OnnxScorer } from '../../ml/scoring';
import { splitRows } from '../../ml/split';
import { runTrainer } from '../../ml/trainers';
import { MicroBatcher } from '../../serving/micro-batcher';
import { buildServer } from '../../serving/server';
import { validateBatch } from '../../specs/data-batch';
import { parseModelSpec } from '../../specs/model-spec';

const ROOT = path.resolve(__dirname, '../../..');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 64);
const spec = parseModelSpec(parse(fs.readFileSync(path.join(ROOT, 'models/credit-default.yaml'), 'utf8')));

interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/** Child: raw ONNX Runtime at batch 1 with the same number of concurrent callers, no HTTP. */
async function raw(onnxPath: string): Promise<void> {
  const scorer = await OnnxScorer.load(fs.readFileSync(onnxPath), spec.features.length);
  const row = new Float32Array(spec.features.length).fill(1);
  const latencies: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        await scorer.score(row, 1);
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ name: 'raw onnxruntime-node (in-process)', rps: latencies.length / SECONDS, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), errors: 0 }));
}

/** Child: the prediction service on a fixed model, batching on or off. */
async function server(onnxPath: string, port: number, batching: boolean): Promise<void> {
  const scorer = await OnnxScorer.load(fs.readFileSync(onnxPath), spec.features.length);
  const batcher = batching ? new MicroBatcher(scorer, spec.features.length, 64, 1) : new MicroBatcher(scorer, spec.features.length, 1, 0);
  const served = { model: spec.name, spec, champion: { version: 1, sha256: 'bench', scorer, batcher } };
  const app = buildServer({ get: (m: string) => (m === spec.name ? served : undefined), serving: () => ({}), replicaId: 'bench' }, { record: () => undefined }, []);
  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write('ready\n');
}

function child(args: string[]): Promise<{ out: string; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [__filename, ...args, '--seconds', String(SECONDS), '--connections', String(CONNECTIONS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve({ out, stop: () => c.kill('SIGTERM') });
    });
    c.on('exit', (code) => (code === 0 ? resolve({ out, stop: () => undefined }) : reject(new Error(`benchmark child exited ${code}`))));
  });
}

async function load(name: string, port: number, body: string): Promise<Figures> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/v1/models/${spec.name}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === '--raw') return raw(process.argv[3]);
  if (mode === '--server') return server(process.argv[3], Number(process.argv[4]), process.argv[5] === 'batching');

  const csv = fs.readFileSync(creditDefaultCsv(loadEnv()), 'utf8');
  const { rows } = validateBatch(spec, csv);
  const parts = splitRows(rows, spec.split);
  const F = spec.features.length;
  const model = runTrainer({ spec, params: spec.trainer, train: toDataset(parts.train, F), validation: toDataset(parts.validation, F), onProgress: () => undefined });
  const onnxPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-serving-')), 'model.onnx');
  fs.writeFileSync(onnxPath, model.onnx);
  const body = JSON.stringify({ instances: [Object.fromEntries(spec.features.map((f, j) => [f.name, parts.test[0].features[j]]))] });
  console.log(`credit-default GBDT (${model.metrics.trees} trees), batch-1 requests, ${CONNECTIONS} concurrent clients, ${SECONDS}s each, 2-core machine\n`);

  const results: Figures[] = [JSON.parse((await child(['--raw', onnxPath])).out)];
  for (const [name, batching] of [['naive server (one request, one run)', false], ['micro-batching server (≤64 rows, ≤1 ms)', true]] as const) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const srv = await child(['--server', onnxPath, String(port), batching ? 'batching' : 'naive']);
    results.push(await load(name, port, body));
    srv.stop();
  }
  console.log(`${'setup'.padEnd(42)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}`);
  for (const r of results) console.log(`${r.name.padEnd(42)} ${r.rps.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${String(r.errors).padStart(7)}`);
  const [, naive, ours] = results;
  const ratio = ours.rps / naive.rps;
  console.log(`\nthroughput ratio (micro-batching / naive): ${ratio.toFixed(2)}x   target >= 2x: ${ratio >= 2 ? 'met' : 'NOT met'}`);
  console.log(`p99 micro-batching ${ours.p99.toFixed(2)} ms vs naive ${naive.p99.toFixed(2)} ms   target equal or better: ${ours.p99 <= naive.p99 ? 'met' : 'NOT met'}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
