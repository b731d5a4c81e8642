/**
 * Edge (issue 14): a fleet of agent processes (20 by default, one group) on a
 * private stack; the champion deployed to them ring by ring (10% → 50% →
 * 100%, short bakes) by a real edgeRolloutWorkflow through the real gateway.
 *
 *   node dist/scripts/bench/edge.js [--devices 20] [--requests 3000]
 *
 * Prints: time from deploy to every device serving and to the rollout's end,
 * bytes each device exchanged with the gateway, each agent's RSS, and local
 * p50/p99 batch-1 latency on an agent against a serving replica with the same
 * model and rows, measured in alternating rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../../config/task-queues';
import { addDevice } from '../../db/edge';
import { toInstance } from '../../specs/data-batch';
import { freePort } from '../../stack/process';
import type { EdgeRolloutOutcome } from '../../workflows/edge-rollout';
import { track } from './kit/child-processes';
import { arg, runMain, say } from './kit/cli';
import { predictPath } from './kit/factory-services';
import { seedRegistry } from './kit/registry-seed';
import { ROOT, shippedSpec } from './kit/repo';
import { Rollouts } from './kit/rollout';
import { withStackFixture } from './kit/stack-fixture';
import { now, pct, sleep, sortedOf } from './kit/timing';

const DEVICES = Number(arg('devices', '20'));
const REQUESTS = Number(arg('requests', '3000'));
const RINGS = [10, 50, 100];

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

runMain(async () => {
  await withStackFixture('bench-edge', undefined, async (f) => {
    const spec = shippedSpec((raw) => (raw.edge = { bake: '2s', checkEvery: '1s', maxPendingShare: 0, maxFailedShare: 0.1, minRequests: 50 }));
    const seeded = await seedRegistry(f, spec);
    f.step('starting the control worker and the edge gateway');
    await f.startWorker('control');
    const gatewayPort = await freePort();
    const gatewayLog = fs.openSync(path.join(f.dataDir, 'logs', 'edge-gateway.log'), 'a');
    track(spawn(process.execPath, [path.join(ROOT, 'dist/edge/gateway-main.js')], { stdio: ['ignore', gatewayLog, gatewayLog], env: { ...process.env, EDGE_GATEWAY_PORT: String(gatewayPort) } }));
    const gateway = `http://127.0.0.1:${gatewayPort}`;
    let publicKey: string | undefined;
    while (!publicKey) publicKey = await fetch(`${gateway}/v1/edge/public-key`).then(async (r) => ((await r.json()) as { publicKey: string }).publicKey, () => sleep(200).then(() => undefined));
    const rollouts = new Rollouts(await f.connectTemporal(), spec.name, seeded.register);
    if ((await rollouts.next()).outcome.status !== 'promoted') throw new Error('v1 was not promoted');

    f.step(`registering ${DEVICES} devices and starting their agents`);
    const agents: { id: string; base: string; child: ChildProcess }[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const id = `dev-${String(i).padStart(2, '0')}`;
      const token = await addDevice(f.db, { id, group: 'fleet', labels: {} }, 'bench');
      const port = await freePort();
      const log = fs.openSync(path.join(f.dataDir, 'logs', `edge-agent-${id}.log`), 'a');
      const child = track(
        spawn(process.execPath, [path.join(ROOT, 'dist/edge/agent-main.js'), '--device', id, '--gateway', gateway, '--dir', path.join(f.tmp, id), '--public-key', publicKey, '--port', String(port), '--poll', '1000', '--report', '2000'], {
          stdio: ['ignore', log, log],
          env: { PATH: process.env.PATH, FACTORY_EDGE_TOKEN: token },
        }),
      );
      agents.push({ id, base: `http://127.0.0.1:${port}`, child });
    }
    for (const a of agents) while (!(await fetch(`${a.base}/healthz`).then((r) => r.ok, () => false))) await sleep(100);
    await sleep(1500);
    const rssIdle = agents.map((a) => rssMb(a.child.pid!));

    f.step(`deploying v1 to the fleet in rings ${RINGS.join('% → ')}%`);
    const client = await f.connectTemporal();
    const started = now();
    const handle = await client.workflow.start('edgeRolloutWorkflow', { taskQueue: TASK_QUEUES.control, workflowId: `bench-edge-${Date.now()}`, args: [{ model: spec.name, version: 1, group: 'fleet', rings: RINGS, actor: 'bench' }] });
    const servingAt = new Map<string, number>();
    const result = handle.result() as Promise<EdgeRolloutOutcome>;
    let done = false;
    void result.finally(() => (done = true)).catch(() => undefined);
    while (servingAt.size < agents.length && !done) {
      for (const a of agents) {
        if (servingAt.has(a.id)) continue;
        const r = (await (await fetch(`${a.base}/readyz`)).json()) as { serving: { version: number }[] };
        if (r.serving.some((s) => s.version === 1)) servingAt.set(a.id, now() - started);
      }
      await sleep(100);
    }
    const outcome = await result;
    const endedS = (now() - started) / 1000;
    if (outcome.status !== 'completed') throw new Error(`the edge rollout ended ${JSON.stringify(outcome)}`);
    const firstS = Math.min(...servingAt.values()) / 1000;
    const allS = Math.max(...servingAt.values()) / 1000;
    await sleep(2500);
    const transfer = await Promise.all(agents.map(async (a) => ((await (await fetch(`${a.base}/healthz`)).json()) as { transferBytes: { down: number; up: number } }).transferBytes));
    const rssServing = agents.map((a) => rssMb(a.child.pid!));

    f.step(`local latency: ${REQUESTS} batch-1 requests to an agent and to a serving replica, alternating rounds`);
    const replica = await f.startReplica({}, 'bench-edge');
    const bodies = seeded.split.test.slice(0, 500).map((r) => JSON.stringify({ instances: [toInstance(spec, r)] }));
    const timeOf = async (base: string, n: number, into: number[]) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const res = await fetch(`${base}${predictPath(spec.name)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i % bodies.length] });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${base}: ${res.status}`);
        into.push(performance.now() - t0);
      }
    };
    const onAgent: number[] = [];
    const onReplica: number[] = [];
    await timeOf(agents[0].base, 200, []);
    await timeOf(replica.base, 200, []);
    for (let round = 0; round < 4; round++) {
      await timeOf(agents[0].base, REQUESTS / 4, onAgent);
      await timeOf(replica.base, REQUESTS / 4, onReplica);
    }
    const [a, r] = [sortedOf(onAgent), sortedOf(onReplica)];
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const cpus = os.cpus();

    say(`edge: ${DEVICES} agent processes (factory-edge), one group, rings ${RINGS.join('% → ')}% with 2 s bakes, on one host with the stack; ${cpus.length} × ${cpus[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
    say(`model: credit-default GBDT champion (${seeded.champion.summary.trees} trees), ONNX ${(await f.db.query<{ b: string }>("SELECT artifact_bytes AS b FROM model_versions WHERE version = 1")).rows[0].b} bytes`);
    say();
    say(`deploy → first device serving        ${firstS.toFixed(1)} s`);
    say(`deploy → every device serving        ${allS.toFixed(1)} s`);
    say(`deploy → rollout completed           ${endedS.toFixed(1)} s   (three rings, each waiting for its devices' reports and a 2 s bake)`);
    say(`bytes per device with the gateway    down ${Math.round(mean(transfer.map((t) => t.down)))} (min ${Math.min(...transfer.map((t) => t.down))}, max ${Math.max(...transfer.map((t) => t.down))}), up ${Math.round(mean(transfer.map((t) => t.up)))}   (manifests, the model once, reports; since agent start)`);
    say(`agent RSS, MiB                       idle ${mean(rssIdle).toFixed(0)} (max ${Math.max(...rssIdle).toFixed(0)}), serving ${mean(rssServing).toFixed(0)} (max ${Math.max(...rssServing).toFixed(0)}); replica (dist/serving/main.js) ${rssMb(replica.child.pid!).toFixed(0)}`);
    say();
    say(`local batch-1 latency over ${REQUESTS} requests each, one client, alternating rounds`);
    say(`                                      p50 ms   p99 ms`);
    say(`  agent (on the device)            ${pct(a, 0.5).toFixed(2).padStart(8)} ${pct(a, 0.99).toFixed(2).padStart(8)}`);
    say(`  serving replica                  ${pct(r, 0.5).toFixed(2).padStart(8)} ${pct(r, 0.99).toFixed(2).padStart(8)}`);
    say(`(the agent scores each request at once; the replica micro-batches (1 ms window) and writes the prediction log)`);
  });
});
