import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { DeviceReport } from '../edge/telemetry';
import { audit } from './models';
import { inTransaction } from './pool';

export interface EdgeDevice {
  id: string;
  group: string;
  labels: Record<string, string>;
  lastSeenAt: Date | null;
  lastReport: DeviceReport | null;
  disabled: boolean;
}

const digest = (secret: string) => createHash('sha256').update(secret).digest();
const deviceOf = (r: { id: string; group_name: string; labels: Record<string, string>; last_seen_at: Date | null; last_report: DeviceReport | null; disabled_at: Date | null }): EdgeDevice => ({
  id: r.id,
  group: r.group_name,
  labels: r.labels,
  lastSeenAt: r.last_seen_at,
  lastReport: r.last_report,
  disabled: r.disabled_at !== null,
});
const DEVICE_COLUMNS = 'id, group_name, labels, last_seen_at, last_report, disabled_at';

export class EdgeRegistryError extends Error {}

/**
 * Registers a device in a group and returns its token, shown this once: the
 * registry keeps its digest only. The token is `fed_<device>_<secret>`, so a
 * gateway knows which device claims it before it compares anything.
 */
export async function addDevice(db: Pool, d: { id: string; group: string; labels: Record<string, string> }, actor: string): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  const found = await db.query('SELECT 1 FROM edge_devices WHERE id = $1', [d.id]);
  if (found.rowCount) throw new EdgeRegistryError(`device ${d.id} is registered already`);
  await db.query('INSERT INTO edge_devices (id, group_name, labels, token_digest, created_by) VALUES ($1, $2, $3, $4, $5)', [d.id, d.group, d.labels, digest(secret).toString('hex'), actor]);
  await audit(db, { actor, action: 'edge.device.add', channel: 'cli', outcome: 'ok', details: { device: d.id, group: d.group, labels: d.labels } });
  return `fed_${d.id}_${secret}`;
}

/** The device a bearer token proves, or undefined; every refusal takes the same time whatever was wrong. */
export async function authenticateDevice(db: Pool, deviceId: string, token: string | undefined): Promise<EdgeDevice | undefined> {
  const m = /^fed_([a-z0-9][a-z0-9._-]{0,62})_([A-Za-z0-9_-]{43})$/.exec(token ?? '');
  const row = (await db.query(`SELECT ${DEVICE_COLUMNS}, token_digest FROM edge_devices WHERE id = $1`, [deviceId])).rows[0];
  const expected = row ? Buffer.from(row.token_digest, 'hex') : digest('no such device');
  const given = digest(m?.[2] ?? '');
  const ok = timingSafeEqual(expected, given) && row !== undefined && m?.[1] === deviceId && row.disabled_at === null;
  return ok ? deviceOf(row) : undefined;
}

export async function listDevices(db: Pool, group?: string): Promise<EdgeDevice[]> {
  const rows = await db.query(`SELECT ${DEVICE_COLUMNS} FROM edge_devices WHERE ($1::text IS NULL OR group_name = $1) ORDER BY group_name, id`, [group ?? null]);
  return rows.rows.map(deviceOf);
}

export interface Assignment {
  model: string;
  version: number;
  serial: number;
}

/** What a device is to serve now: the newest assignment per model. */
export async function currentAssignments(db: Pool | PoolClient, deviceId: string): Promise<Assignment[]> {
  const rows = await db.query<{ model: string; version: number; serial: string }>(
    'SELECT DISTINCT ON (model) model, version, serial FROM edge_assignments WHERE device_id = $1 ORDER BY model, serial DESC',
    [deviceId],
  );
  return rows.rows.map((r) => ({ model: r.model, version: r.version, serial: Number(r.serial) }));
}

/** Tells these devices to serve model@version, each with a new, higher serial; returns the serials. */
export async function assign(db: Pool, deviceIds: string[], model: string, version: number, deploymentId: number | null): Promise<Record<string, number>> {
  const rows = await db.query<{ device_id: string; serial: string }>(
    'INSERT INTO edge_assignments (device_id, model, version, deployment_id) SELECT unnest($1::text[]), $2, $3, $4 RETURNING device_id, serial',
    [deviceIds, model, version, deploymentId],
  );
  return Object.fromEntries(rows.rows.map((r) => [r.device_id, Number(r.serial)]));
}

/** A report in: the device seen, what it serves kept, its telemetry hours added (a report sent twice counts once). */
export async function recordReport(db: Pool, device: EdgeDevice, report: DeviceReport): Promise<void> {
  await inTransaction(db, async (client) => {
    await client.query('UPDATE edge_devices SET last_seen_at = now(), last_report = $2 WHERE id = $1', [device.id, { ...report, hours: undefined }]);
    // What went wrong on the device stays on record (a report only carries what happened since the last one).
    for (const e of report.loadErrors) await audit(client, { actor: `device:${device.id}`, action: 'edge.load-error', model: e.model, version: e.version, channel: 'edge', outcome: 'error', details: { at: e.at, reason: e.reason } });
    for (const r of report.refusals) await audit(client, { actor: `device:${device.id}`, action: 'edge.refusal', channel: 'edge', outcome: 'denied', details: { at: r.at, serial: r.serial, reason: r.reason } });
    for (const h of report.hours) {
      await client.query(
        `INSERT INTO edge_telemetry (device_id, group_name, model, version, hour, requests, errors, latency_ms, scores)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (device_id, model, version, hour) DO UPDATE SET requests = EXCLUDED.requests, errors = EXCLUDED.errors,
           latency_ms = EXCLUDED.latency_ms, scores = EXCLUDED.scores, received_at = now()`,
        [device.id, device.group, h.model, h.version, h.hour, h.requests, h.errors, JSON.stringify(h.latencyMs), JSON.stringify(h.scores)],
      );
    }
  });
}

export interface TelemetrySum {
  requests: number;
  errors: number;
  latencyMs: number[];
  scores: number[];
}

/** A model version's telemetry summed over some devices since a time (hours overlapping it), or undefined where none came. */
export async function sumTelemetry(db: Pool, q: { model: string; version: number; devices?: string[]; group?: string; since: Date }): Promise<TelemetrySum | undefined> {
  const rows = await db.query<{ requests: number; errors: number; latency_ms: number[]; scores: number[] }>(
    `SELECT requests, errors, latency_ms, scores FROM edge_telemetry
      WHERE model = $1 AND version = $2 AND hour > $3::timestamptz - interval '1 hour'
        AND ($4::text[] IS NULL OR device_id = ANY($4)) AND ($5::text IS NULL OR group_name = $5)`,
    [q.model, q.version, q.since, q.devices ?? null, q.group ?? null],
  );
  if (rows.rowCount === 0) return undefined;
  const add = (a: number[], b: number[]) => b.map((v, i) => (a[i] ?? 0) + v);
  return rows.rows.reduce<TelemetrySum>((s, r) => ({ requests: s.requests + r.requests, errors: s.errors + r.errors, latencyMs: add(s.latencyMs, r.latency_ms), scores: add(s.scores, r.scores) }), { requests: 0, errors: 0, latencyMs: [], scores: [] });
}

/** A model version's ONNX artifact and the model's spec, as a manifest names them; undefined for a version that does not exist. */
export async function versionForEdge(db: Pool, model: string, version: number): Promise<{ key: string; sha256: string; bytes: number; spec: Record<string, unknown>; status: string } | undefined> {
  const rows = await db.query<{ artifact_key: string; artifact_sha256: string; artifact_bytes: string; spec: Record<string, unknown>; status: string }>(
    'SELECT v.artifact_key, v.artifact_sha256, v.artifact_bytes, v.status, m.spec FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2',
    [model, version],
  );
  const r = rows.rows[0];
  return r && { key: r.artifact_key, sha256: r.artifact_sha256, bytes: Number(r.artifact_bytes), spec: r.spec, status: r.status };
}

/** Versions a person approved and the factory promoted: the champion, or one that was (a rollback target). Nothing else goes to devices. */
export const EDGE_DEPLOYABLE = ['champion', 'retired'];

/** Each device group's answers of a model version since a time, summed over its devices: what the drift monitor compares per group. */
export async function groupScores(db: Pool, model: string, version: number, since: Date): Promise<{ group: string; requests: number; scores: number[] }[]> {
  const rows = await db.query<{ group_name: string; requests: number; scores: number[] }>(
    'SELECT group_name, requests, scores FROM edge_telemetry WHERE model = $1 AND version = $2 AND hour > $3::timestamptz - interval \'1 hour\'',
    [model, version, since],
  );
  const byGroup = new Map<string, { group: string; requests: number; scores: number[] }>();
  for (const r of rows.rows) {
    const g = byGroup.get(r.group_name) ?? { group: r.group_name, requests: 0, scores: [] };
    g.requests += r.requests;
    g.scores = r.scores.map((v, i) => (g.scores[i] ?? 0) + v);
    byGroup.set(r.group_name, g);
  }
  return [...byGroup.values()];
}
