import crypto from 'node:crypto';
import { loadOrCreateEd25519 } from '../../config/ed25519-key-file';
import { dataPaths } from '../../config/env';
import { edgeRolloutStatusQuery, pauseEdgeRolloutUpdate } from '../../contracts/messages';
import { signManifest, type Manifest } from '../../edge/manifest';
import { addPerson, issueToken } from '../../people/directory';
import { decide } from '../../scripts/cli/approval';
import { edgeDeploy, edgeDeviceAdd, edgeStatus, steerEdgeRollout } from '../../scripts/cli/edge';
import type { EdgeRolloutOutcome } from '../../workflows/edge-rollout';
import type { driftMonitor } from '../../workflows';
import { TASK_QUEUES } from '../../config/task-queues';
import { startAgent, interceptingGateway, type Agent } from './edge-agents';
import { cuttablePath } from './network-cut';
import { as, commandSpec, creditSpec, ctx, registerSpec, rowsFrom, startService, testEnv, toGate, uniqueName, waitUntil, withWorkers } from './helpers';

const EDGE = { bake: '2s', checkEvery: '1s', maxPendingShare: 0, maxFailedShare: 0.3, minRequests: 5 };

/**
 * Models at the edge, every part real: the gateway and the workers as processes,
 * agents as device processes with their own caches, a ring rollout through the
 * registry and a workflow, and the network between an agent and the gateway
 * cut or tampered with.
 */
describe('edge: signed delivery to devices, ring rollouts, serving offline', () => {
  const factory = withWorkers();
  const model = uniqueName('edge');
  const suffix = model.split('-').slice(1).join('-');
  const group = (g: string) => `${g}-${suffix}`;
  const tokens: Record<string, string> = {};
  const agents: Record<string, Agent> = {};
  const closers: (() => Promise<unknown>)[] = [];
  let gateway: string;
  let publicKey: string;
  let adminToken: string;
  let row: Record<string, unknown>;
  const sizes: Record<number, number> = {};

  const asAdmin = <T>(fn: Parameters<typeof ctx<T>>[0]) => ctx((c) => fn({ ...c, env: { ...c.env, FACTORY_TOKEN: adminToken } }));
  const deploy = async (version: number, g: string, rings: string) => {
    const { workflowId } = await ctx((c) => edgeDeploy(as(c, 'alice'), model, String(version), { group: g, rings }));
    return { workflowId, result: () => ctx((c) => c.client.workflow.getHandle(workflowId).result() as Promise<EdgeRolloutOutcome>) };
  };
  const device = async (id: string, g: string) => {
    const out = await asAdmin((c) => edgeDeviceAdd(c, id, { group: g }));
    tokens[id] = /its token \(shown once; keep it on the device only\): (fed_\S+)/.exec(out)![1];
  };
  const refusalsOf = (id: string) => ctx(async (c) => (await c.db.query<{ reason: string }>("SELECT details->>'reason' AS reason FROM audit_events WHERE actor = $1 AND action = 'edge.refusal' ORDER BY id", [`device:${id}`])).rows.map((r) => r.reason));

  beforeAll(async () => {
    const g = await startService('edge/gateway-main.js', 'EDGE_GATEWAY_PORT');
    closers.push(g.stop);
    gateway = g.base;
    publicKey = ((await (await fetch(`${gateway}/v1/edge/public-key`)).json()) as { publicKey: string }).publicKey;
    await ctx(async (c) => {
      await addPerson(c.db, { id: `edge-admin-${suffix}`.slice(0, 60), displayName: 'Edge Admin', groups: ['admins'] }, 'test');
      adminToken = await issueToken(c.db, `edge-admin-${suffix}`.slice(0, 60), 'test');
    });
    // v1 a small linear model, v2 a larger GBDT: both approved and promoted (no replica: promoted at once).
    await registerSpec(commandSpec(model, (raw) => (raw.edge = EDGE)));
    await ctx(async (c) => {
      await toGate(c, model, factory.batches[0]);
      await decide(as(c, 'alice'), 'approve', model, '1', {}, 60_000);
    });
    await registerSpec(creditSpec(model, (raw) => ((raw.edge = EDGE), (raw.trainer = { kind: 'gbdt', trees: 150, maxDepth: 6, earlyStoppingRounds: 0 }))));
    await ctx(async (c) => {
      await toGate(c, model, factory.batches[1]);
      await decide(as(c, 'alice'), 'approve', model, '2', {}, 60_000);
      for (const r of (await c.db.query<{ version: number; artifact_bytes: string }>('SELECT v.version, v.artifact_bytes FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1', [model])).rows) sizes[r.version] = Number(r.artifact_bytes);
    });
    [row] = rowsFrom(factory.batches[4]);
  }, 240_000);

  afterAll(async () => {
    for (const a of Object.values(agents)) await a.stop();
    for (const close of closers.reverse()) await close();
  });

  test('a ring rollout reaches every device of the group, each serving the same API from its own verified cache', async () => {
    const plant = group('plant-a');
    for (const id of ['a1', 'a2', 'a3']) await device(`${id}-${suffix}`, plant);
    // a1 reaches the gateway through a path the next test cuts, a2 through one that tampers.
    const cut = await cuttablePath({ host: '127.0.0.1', port: Number(new URL(gateway).port) });
    const mitm = await interceptingGateway(gateway);
    closers.push(() => cut.close(), mitm.close);
    (globalThis as Record<string, unknown>).__edge = { cut, mitm };
    agents.a1 = await startAgent({ device: `a1-${suffix}`, token: tokens[`a1-${suffix}`], gateway: `http://127.0.0.1:${cut.port}`, publicKey });
    agents.a2 = await startAgent({ device: `a2-${suffix}`, token: tokens[`a2-${suffix}`], gateway: mitm.url, publicKey });
    agents.a3 = await startAgent({ device: `a3-${suffix}`, token: tokens[`a3-${suffix}`], gateway, publicKey });

    const first = await deploy(1, plant, '33,100');
    expect(await first.result()).toEqual({ status: 'completed', version: 1, devices: 3 });
    for (const a of [agents.a1, agents.a2, agents.a3]) {
      await a.serves(model, 1);
      const answer = await a.predict(model, row);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ model, version: 1, predictions: [expect.any(Number)] });
      expect((await a.predict(model, { ...row, LIMIT_BAL: 'lots' })).status).toBe(400);
    }

    // v2, paused and resumed by an approver through the approvals service; an unsigned update is refused.
    const second = await deploy(2, plant, '33,100');
    await ctx(async (c) => {
      expect((await steerEdgeRollout(as(c, 'alice'), 'pause', model, '2', { group: plant, reason: 'checking the line' })).paused).toBe(true);
      const unsigned = await c.client.workflow.getHandle(second.workflowId).executeUpdate(pauseEdgeRolloutUpdate, { args: [{ by: 'alice' }] }).catch((err: Error) => err);
      expect((unsigned as Error & { cause?: Error }).cause?.message).toContain('no valid signed assertion');
      const s = await c.client.workflow.getHandle(second.workflowId).query(edgeRolloutStatusQuery);
      expect(s.rings.length).toBe(2);
      expect((await steerEdgeRollout(as(c, 'bob'), 'resume', model, '2', { group: plant })).paused).toBe(false);
    });
    expect(await second.result()).toEqual({ status: 'completed', version: 2, devices: 3 });
    for (const a of [agents.a1, agents.a2, agents.a3]) await a.serves(model, 2);
    expect(await ctx((c) => edgeStatus(c, model))).toMatch(new RegExp(`a3-${suffix}.*told v2.*serves v2`));
    console.log(`edge: ${model} v1 then v2 reached the 3 devices of ${plant} in rings 33% → 100%`);
  }, 180_000);

  test('cut from the gateway, an agent keeps serving, restarts offline from its cache, and reports once the network is back', async () => {
    const { cut } = (globalThis as Record<string, any>).__edge as { cut: Awaited<ReturnType<typeof cuttablePath>> };
    await cut.cut();
    expect((await agents.a1.predict(model, row)).status).toBe(200);
    await agents.a1.stop();
    agents.a1 = await startAgent({ device: `a1-${suffix}`, token: tokens[`a1-${suffix}`], gateway: `http://127.0.0.1:${cut.port}`, publicKey, dir: agents.a1.dir, port: agents.a1.port });
    const offline = await agents.a1.ready();
    expect(offline).toMatchObject({ online: false, serving: [{ model, version: 2 }] });
    for (let i = 0; i < 12; i++) expect((await agents.a1.predict(model, row)).status).toBe(200);
    const restored = new Date();
    await cut.restore();
    const telemetry = await waitUntil('a1 to report its offline requests', () =>
      ctx(async (c) => {
        const r = await c.db.query<{ requests: number; received_at: Date }>('SELECT requests, received_at FROM edge_telemetry WHERE device_id = $1 AND model = $2 AND version = 2', [`a1-${suffix}`, model]);
        return r.rows.some((x) => x.requests >= 12 && x.received_at >= restored) ? r.rows : undefined;
      }),
    );
    expect(telemetry.length).toBeGreaterThan(0);
  }, 120_000);

  test('a forged, replayed or expired manifest, or model bytes that do not match, are refused; the agent keeps serving what it had and says why in its next report', async () => {
    const { mitm } = (globalThis as Record<string, any>).__edge as { mitm: Awaited<ReturnType<typeof interceptingGateway>> };
    const key = loadOrCreateEd25519(dataPaths(testEnv()).edgeKey, 'edge manifest signing key');
    const current = (await agents.a2.ready()).serial;
    const genuine = JSON.parse(Buffer.from(((await (await fetch(`${gateway}/v1/devices/a2-${suffix}/manifest`, { headers: { authorization: `Bearer ${tokens[`a2-${suffix}`]}` } })).json()) as { payload: string }).payload, 'base64').toString()) as Manifest;
    const hour = 3_600_000;
    const forged = (() => {
      const signed = signManifest({ ...genuine, serial: current + 10 }, key.privateKey, key.publicKeyHex);
      const altered = { ...JSON.parse(Buffer.from(signed.payload, 'base64').toString()), serial: current + 11 };
      return { ...signed, payload: Buffer.from(JSON.stringify(altered)).toString('base64') };
    })();
    const cases: [string, unknown, RegExp, Buffer?][] = [
      ['a manifest altered after signing', forged, /bad signature/],
      ['a manifest signed with another key', signManifest({ ...genuine, serial: current + 20 }, crypto.generateKeyPairSync('ed25519').privateKey, '11'.repeat(32)), /not the factory's/],
      ['an old manifest replayed', signManifest({ ...genuine, serial: current - 1 }, key.privateKey, key.publicKeyHex), /not newer than the last accepted/],
      ['an expired manifest', signManifest({ ...genuine, serial: current + 30, issuedAt: new Date(Date.now() - 2 * hour).toISOString(), expiresAt: new Date(Date.now() - hour).toISOString() }, key.privateKey, key.publicKeyHex), /expired/],
      ['model bytes that do not match the sha256', signManifest({ ...genuine, serial: current + 40, models: genuine.models.map((m) => ({ ...m, version: 1, onnx: { sha256: crypto.createHash('sha256').update('the real v1').digest('hex'), bytes: 100 } })) }, key.privateKey, key.publicKeyHex), /sha256/, Buffer.alloc(100, 7)],
    ];
    for (const [what, manifest, reason, bytes] of cases) {
      Object.assign(mitm.overrides, { manifest, model: bytes });
      const refusals = await waitUntil(`a2 to report refusing ${what}`, async () => {
        const all = await refusalsOf(`a2-${suffix}`);
        return all.some((r) => reason.test(r)) ? all : undefined;
      }, 20_000);
      expect(refusals.length).toBeGreaterThan(0);
      expect(await agents.a2.ready()).toMatchObject({ serial: current, serving: [{ model, version: 2 }] });
      expect((await agents.a2.predict(model, row)).status).toBe(200);
    }
    delete mitm.overrides.manifest;
    delete mitm.overrides.model;
  }, 120_000);

  test("a device group's answers count in the drift monitor like the serving fleet's, per group", async () => {
    await registerSpec(creditSpec(model, (raw) => ((raw.edge = EDGE), (raw.trainer = { kind: 'gbdt', trees: 150, maxDepth: 6, earlyStoppingRounds: 0 }), (raw.triggers = { drift: { minRows: 50 } }))));
    // No serving replica answers this model: only the devices of plant-a, which serve the champion (v2).
    const rows = rowsFrom(factory.batches[4], 60);
    for (const r of rows) expect((await agents.a3.predict(model, r)).status).toBe(200);
    await waitUntil('a3 to report its answers', () =>
      ctx(async (c) => ((await c.db.query<{ n: number }>('SELECT coalesce(sum(requests), 0)::int AS n FROM edge_telemetry WHERE device_id = $1 AND version = 2', [`a3-${suffix}`])).rows[0].n >= 60 ? true : undefined)),
    );
    const check = await ctx((c) =>
      c.client.workflow.execute<typeof driftMonitor>('driftMonitor' satisfies (typeof driftMonitor)['name'], { workflowId: uniqueName('edge-drift'), taskQueue: TASK_QUEUES.control, args: [{ model }] }),
    );
    expect(check.conclusive).toBe(true);
    expect(check.summary).toMatch(new RegExp(`devices: ${group('plant-a')} score PSI \\d+\\.\\d{3} \\(\\d+ requests\\)`));
    console.log(`edge: drift check from device telemetry alone: ${check.summary.slice(0, 200)}`);
  }, 120_000);

  test('a version that fails to load on too many devices of a ring aborts the rollout and rolls back with newer manifests naming the previous version', async () => {
    const plant = group('plant-b');
    for (const id of ['b1', 'b2', 'b3']) await device(`${id}-${suffix}`, plant);
    // b1 and b2 hold v1's bytes and no more, as small devices would; b3 holds anything.
    expect(sizes[2]).toBeGreaterThan(sizes[1]);
    for (const id of ['b1', 'b2', 'b3']) agents[id] = await startAgent({ device: `${id}-${suffix}`, token: tokens[`${id}-${suffix}`], gateway, publicKey, maxModelBytes: id === 'b3' ? undefined : sizes[1] });
    expect((await (await deploy(1, plant, '100')).result()).status).toBe('completed');
    const before = (await agents.b3.ready()).serial;
    const outcome = await (await deploy(2, plant, '100')).result();
    // One failed device of three is already above 30%: the rollout may stop before the second reports.
    expect(outcome).toMatchObject({ status: 'rolled-back', version: 2, reason: expect.stringMatching(/^[12] of 3 devices of the 100% ring failed \(above 30%\): b[12]-.*holds at most/) });
    for (const id of ['b1', 'b2', 'b3']) await agents[id].serves(model, 1);
    // b3, which could hold v2, is back on v1 by a newer manifest, never an older one.
    expect((await agents.b3.ready()).serial).toBeGreaterThan(before);
    console.log(`edge: ${model} v2 to ${plant} rolled back: ${(outcome as { reason: string }).reason.slice(0, 160)}`);
  }, 180_000);

  test('the gateway refuses a device that is not registered, and a registered one with a wrong token', async () => {
    const ghost = await fetch(`${gateway}/v1/devices/ghost-${suffix}/manifest`, { headers: { authorization: `Bearer fed_ghost-${suffix}_${'A'.repeat(43)}` } });
    expect(ghost.status).toBe(401);
    const wrong = await fetch(`${gateway}/v1/devices/a3-${suffix}/manifest`, { headers: { authorization: `Bearer fed_a3-${suffix}_${'B'.repeat(43)}` } });
    expect(wrong.status).toBe(401);
    const none = await fetch(`${gateway}/v1/devices/a3-${suffix}/models/${'0'.repeat(64)}`);
    expect(none.status).toBe(401);
  });
});
