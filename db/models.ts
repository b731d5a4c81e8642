import type { Pool, PoolClient } from 'pg';
import { parseModelSpec, type ModelSpec } from '../specs/model-spec';
import { sha256 } from '../storage/artifacts';

type Db = Pool | PoolClient;

export class UnknownModelError extends Error {
  constructor(readonly model: string, known: string[]) {
    super(`unknown model "${model}"${known.length ? `; registered models: ${known.join(', ')}` : '; no models are registered yet'}`);
    this.name = 'UnknownModelError';
  }
}

export interface ModelRow {
  id: number;
  name: string;
  spec: ModelSpec;
}

export async function findModel(db: Db, name: string): Promise<ModelRow> {
  const res = await db.query<{ id: string; name: string; spec: unknown }>('SELECT id, name, spec FROM models WHERE name = $1', [name]);
  if (res.rowCount === 0) {
    const known = await db.query<{ name: string }>('SELECT name FROM models ORDER BY name');
    throw new UnknownModelError(name, known.rows.map((r) => r.name));
  }
  const row = res.rows[0];
  return { id: Number(row.id), name: row.name, spec: parseModelSpec(row.spec, name) };
}

/** Registers a model or updates its spec; the change is audited with the spec's hash and kept in the spec history. */
export async function upsertModel(db: Db, spec: ModelSpec, actor: string): Promise<{ id: number; changed: boolean }> {
  const json = JSON.stringify(spec);
  const hash = sha256(json);
  // One statement: a spec never changes without its history row, even on a pool with no transaction.
  const res = await db.query<{ id: string; changed: boolean }>(
    `WITH m AS (
       INSERT INTO models (name, spec, spec_sha256) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, spec_sha256 = EXCLUDED.spec_sha256, updated_at = now()
         WHERE models.spec_sha256 <> EXCLUDED.spec_sha256
       RETURNING id
     ), history AS (
       INSERT INTO model_spec_changes (model_id, spec_sha256, changed_by) SELECT id, $3, $4 FROM m
     )
     SELECT id, true AS changed FROM m`,
    [spec.name, json, hash, actor],
  );
  if (res.rowCount === 0) {
    const existing = await findModel(db, spec.name);
    return { id: existing.id, changed: false };
  }
  await audit(db, { actor, action: 'model.register', model: spec.name, outcome: 'ok', details: { specSha256: hash } });
  return { id: Number(res.rows[0].id), changed: true };
}

/** Who last changed a model's spec, and when; undefined for a model registered before the spec history was kept. */
export async function lastSpecChange(db: Db, modelId: number): Promise<{ by: string; at: Date; specSha256: string } | undefined> {
  const res = await db.query<{ changed_by: string; changed_at: Date; spec_sha256: string }>(
    'SELECT changed_by, changed_at, spec_sha256 FROM model_spec_changes WHERE model_id = $1 ORDER BY changed_at DESC, id DESC LIMIT 1',
    [modelId],
  );
  const row = res.rows[0];
  return row && { by: row.changed_by, at: row.changed_at, specSha256: row.spec_sha256 };
}

export interface AuditEvent {
  actor: string;
  action: string;
  model?: string;
  version?: number;
  channel?: string;
  outcome: 'ok' | 'denied' | 'error';
  details?: Record<string, unknown>;
}

export async function audit(db: Db, e: AuditEvent): Promise<void> {
  await db.query(
    'INSERT INTO audit_events (actor, action, model, version, channel, outcome, details) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [e.actor, e.action, e.model ?? null, e.version ?? null, e.channel ?? null, e.outcome, JSON.stringify(e.details ?? {})],
  );
}
