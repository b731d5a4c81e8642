import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerPool } from '../../../config/task-queues';
import { asBackground } from '../../../stack/priority';
import { freePort, stopProcess } from '../../../stack/process';
import { track } from './child-processes';
import { sleep } from './timing';
import { ROOT } from './repo';

/** Node flags that write a V8 CPU profile named for tag into dir, if there is one. */
export const profileFlags = (dir: string | undefined, tag: string) => (dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${tag}.cpuprofile`] : []);

/** The prediction route of a model on a replica. */
export const predictPath = (model: string) => `/v1/models/${model}/predict`;

export interface Replica {
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
  kill(): void;
}

/**
 * A prediction replica: the real service (dist/serving/main.js) as a process, on a free port, returned once it serves a
 * model (/readyz) or, with `until: '/healthz'`, once it is up; with profileDir, writing a V8 CPU profile there.
 */
export async function startReplica(logs: string, env: Record<string, string>, tag: string, profileDir?: string, until: '/readyz' | '/healthz' = '/readyz'): Promise<Replica> {
  const port = await freePort();
  const out = fs.openSync(path.join(logs, `serving-${tag}-${port}.log`), 'a');
  const flags = profileFlags(profileDir, `${tag}-${port}`);
  // Heartbeats every half second, so that rollouts see a new replica (and miss a dead one) quickly.
  const child = track(spawn(process.execPath, [...flags, path.join(ROOT, 'dist/serving/main.js')], { stdio: ['ignore', out, out], env: { ...process.env, SERVING_PORT: String(port), SERVING_HEARTBEAT_MS: '500', ...env } }));
  fs.closeSync(out);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`replica on ${port} exited (${child.exitCode}); see ${logs}`);
    const ok = await fetch(`${base}${until}`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`replica on ${port} not ready after 60s; see ${logs}`);
    await sleep(200);
  }
  return { base, child, stop: () => stopProcess(child), kill: () => child.kill('SIGKILL') };
}

/** A real worker of a pool (dist/workers/<pool>.js); resolves once it has started. */
export async function startWorker(logs: string, pool: WorkerPool, env: Record<string, string> = {}): Promise<ChildProcess> {
  const port = await freePort();
  // At info level whatever the benchmark's own LOG_LEVEL: its "worker started" line is how this knows it is up.
  // At background priority, as `factory up` starts workers (stack/priority.ts).
  const child = track(spawn(...asBackground(process.execPath, [path.join(ROOT, `dist/workers/${pool}.js`)]), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, LOG_LEVEL: 'info', FACTORY_SERVICE: `worker-${pool}`, METRICS_PORT: String(port) } }));
  const log = fs.createWriteStream(path.join(logs, `worker-${pool}-${port}.log`));
  child.stdout!.pipe(log);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log.write(d);
      if (text.length < 100_000) text += d.toString();
      if (text.includes('"msg":"worker started"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${pool} worker exited (${code}):\n${text.slice(-2000)}`)));
  });
  return child;
}
