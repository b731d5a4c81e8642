import type crypto from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';
import { answerErrorsWithReasons } from '../config/http-errors';
import { logger } from '../config/logger';
import { registry } from '../config/metrics';
import { authenticateDevice, currentAssignments, recordReport, versionForEdge, type EdgeDevice } from '../db/edge';
import type { ArtifactStore } from '../storage/artifacts';
import { deviceIdSchema, signManifest, type Manifest } from './manifest';
import { reportSchema } from './telemetry';

const paramsSchema = z.object({ device: deviceIdSchema });
const modelParamsSchema = paramsSchema.extend({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex') });
/** Models kept in memory for downloads, by sha256; a fleet downloads the same few bytes many times over. */
const CACHED_MODELS = 16;

export interface GatewayDeps {
  db: Pool;
  store: ArtifactStore;
  key: { privateKey: crypto.KeyObject; publicKeyHex: string };
  /** How long a manifest is good for: a device cut off from its gateway longer than this refuses a replayed one. */
  manifestTtlMs: number;
}

/**
 * The edge gateway: devices authenticate with their own token, fetch the
 * manifest the factory signs for them (what to serve, by serial), download the
 * models it names (resumable, by Range), and report what they serve and their
 * telemetry. Nothing here is open but /healthz and the public key.
 */
export function buildGatewayServer(deps: GatewayDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 16 << 20 });
  answerErrorsWithReasons(app, 'edge gateway');
  const cache = new Map<string, Buffer>();
  const devices = new WeakMap<FastifyRequest, EdgeDevice>();

  const deviceOf = async (req: FastifyRequest) => {
    const params = paramsSchema.safeParse(req.params);
    if (!params.success) return undefined;
    return authenticateDevice(deps.db, params.data.device, /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1]);
  };
  const authorised = async (req: FastifyRequest, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const device = await deviceOf(req);
    if (!device) {
      logger.warn({ device: (req.params as { device?: string }).device, url: req.url }, 'edge gateway: a device not registered, disabled, or with a wrong token was refused');
      return reply.code(401).send({ error: 'unknown device or wrong device token' });
    }
    devices.set(req, device);
  };

  /** The device's manifest: every model it is assigned, signed now with a fresh expiry; its serial is its newest assignment's. */
  async function manifestFor(device: EdgeDevice): Promise<Manifest | undefined> {
    const assignments = await currentAssignments(deps.db, device.id);
    if (assignments.length === 0) return undefined;
    const models = [];
    // Version 0 withdraws a model (a rollback where the device served none before): it counts for the serial, not the list.
    for (const a of assignments.filter((x) => x.version > 0)) {
      const v = await versionForEdge(deps.db, a.model, a.version);
      if (!v) throw new Error(`${device.id} is assigned ${a.model} v${a.version}, which the registry does not have`);
      models.push({ model: a.model, version: a.version, onnx: { sha256: v.sha256, bytes: v.bytes }, spec: v.spec });
    }
    const now = Date.now();
    return {
      format: 1,
      deviceId: device.id,
      group: device.group,
      serial: Math.max(...assignments.map((a) => a.serial)),
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + deps.manifestTtlMs).toISOString(),
      models,
    };
  }

  async function modelBytes(device: EdgeDevice, sha256: string): Promise<Buffer | undefined> {
    const cached = cache.get(sha256);
    if (cached) return cached;
    // Only what the device is assigned: a token is not a key to every model of the factory.
    for (const a of (await currentAssignments(deps.db, device.id)).filter((x) => x.version > 0)) {
      const v = await versionForEdge(deps.db, a.model, a.version);
      if (v?.sha256 !== sha256) continue;
      const bytes = await deps.store.get({ key: v.key, sha256: v.sha256, bytes: v.bytes });
      cache.set(sha256, bytes);
      if (cache.size > CACHED_MODELS) cache.delete(cache.keys().next().value!);
      return bytes;
    }
    return undefined;
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/v1/edge/public-key', async () => ({ publicKey: deps.key.publicKeyHex }));

  app.get('/v1/devices/:device/manifest', { onRequest: authorised }, async (req, reply) => {
    const manifest = await manifestFor(devices.get(req)!);
    if (!manifest) return reply.code(204).send();
    // A device polling with the serial it already serves gets nothing new to verify: a poll costs headers, not a manifest.
    if (req.headers['if-none-match'] === `"${manifest.serial}"`) return reply.code(304).send();
    return signManifest(manifest, deps.key.privateKey, deps.key.publicKeyHex);
  });

  app.get('/v1/devices/:device/models/:sha256', { onRequest: authorised }, async (req, reply) => {
    const params = modelParamsSchema.safeParse(req.params);
    if (!params.success) return reply.code(400).send({ error: `${params.error.issues[0].path.join('.')}: ${params.error.issues[0].message}` });
    const bytes = await modelBytes(devices.get(req)!, params.data.sha256);
    if (!bytes) return reply.code(404).send({ error: `model ${params.data.sha256} is not assigned to device ${params.data.device}` });
    reply.header('accept-ranges', 'bytes').header('content-type', 'application/octet-stream');
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (!range) return reply.send(bytes);
    const from = Number(range[1]);
    if (from >= bytes.length) return reply.code(416).header('content-range', `bytes */${bytes.length}`).send();
    return reply.code(206).header('content-range', `bytes ${from}-${bytes.length - 1}/${bytes.length}`).send(bytes.subarray(from));
  });

  app.post('/v1/devices/:device/reports', { onRequest: authorised }, async (req, reply) => {
    const report = reportSchema.safeParse(req.body);
    if (!report.success) return reply.code(400).send({ error: `${report.error.issues[0].path.join('.') || 'body'}: ${report.error.issues[0].message}` });
    await recordReport(deps.db, devices.get(req)!, report.data);
    return reply.code(204).send();
  });
  return app;
}
