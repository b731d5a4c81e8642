import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort, stopProcess } from '../../stack/process';
import { ROOT, testEnv, waitUntil } from './helpers';

/**
 * An edge agent as a device runs it (dist/edge/agent-main.js, its own
 * process), with its cache in a directory that outlives a restart. Its output
 * goes to the test stack's logs.
 */
export async function startAgent(o: { device: string; token: string; gateway: string; publicKey: string; dir?: string; port?: number; maxModelBytes?: number }) {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `edge-${o.device}-`));
  const port = o.port ?? (await freePort());
  const log = fs.openSync(path.join(testEnv().FACTORY_DATA_DIR, 'logs', `edge-agent-${o.device}.log`), 'a');
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'dist/edge/agent-main.js'), '--device', o.device, '--gateway', o.gateway, '--dir', dir, '--public-key', o.publicKey, '--port', String(port), '--poll', '500', '--report', '1000', ...(o.maxModelBytes ? ['--max-model-bytes', String(o.maxModelBytes)] : [])],
    { env: { PATH: process.env.PATH, FACTORY_EDGE_TOKEN: o.token }, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(`agent ${o.device}`, async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), 20_000);
  const ready = async () => (await (await fetch(`${base}/readyz`)).json()) as { online: boolean; serial: number; serving: { model: string; version: number }[] };
  return {
    device: o.device,
    dir,
    port,
    base,
    ready,
    /** Waits until the agent serves this version of the model. */
    serves: (model: string, version: number, timeoutMs = 30_000) => waitUntil(`${o.device} to serve ${model} v${version}`, async () => ((await ready()).serving.some((s) => s.model === model && s.version === version) ? true : undefined), timeoutMs),
    predict: (model: string, row: Record<string, unknown>) => fetch(`${base}/v1/models/${model}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [row] }) }),
    stop: () => stopProcess(child),
  };
}
export type Agent = Awaited<ReturnType<typeof startAgent>>;

/**
 * A man in the middle between an agent and the gateway: passes everything
 * through, except what the test makes it answer instead (a forged manifest,
 * other bytes for a model).
 */
export async function interceptingGateway(target: string) {
  const overrides: { manifest?: unknown; model?: Buffer } = {};
  const server = http.createServer((req, res) => {
    if (overrides.manifest !== undefined && req.url?.endsWith('/manifest')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(overrides.manifest));
    if (overrides.model && req.url?.includes('/models/')) return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(overrides.model);
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, overrides, close: () => new Promise<void>((r) => server.close(() => r())) };
}
