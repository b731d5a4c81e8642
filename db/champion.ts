import type { Pool, PoolClient } from 'pg';
import { refOf, type ArtifactRef } from '../storage/artifacts';

type Db = Pool | PoolClient;

/**
 * The one owner of "who is champion, who was before, what is rolling out".
 * Every reader and writer of the champion alias and of the active rollout goes
 * through here, so the next change to how a champion is named is made once.
 */

/** The PostgreSQL NOTIFY channel on which promotion and rollouts tell serving replicas to reload. */
export const CHAMPION_CHANNEL = 'factory_champion';

/** Rollout phases in which a rollout is still in progress. */
export const ACTIVE_ROLLOUT_PHASES = ['checking', 'shadow', 'canary', 'full'] as const;
/** Rollout phases in which replicas serve the candidate beside the champion. */
const CANDIDATE_PHASES = ['shadow', 'canary'] as const;

export interface Champion {
  modelId: number;
  versionId: string;
  version: number;
  artifact: ArtifactRef;
  snapshot: { id: string; artifact: ArtifactRef; batchIds: string[] };
  previous?: { versionId: string; version: number };
  since: Date;
}

interface ChampionRow {
  model_id: string;
  version_id: string;
  version: number;
  artifact_key: string;
  artifact_sha256: string;
  artifact_bytes: string;
  snapshot_id: string;
  s_key: string;
  s_sha256: string;
  s_bytes: string;
  batch_ids: string[];
  previous_version_id: string | null;
  previous_version: number | null;
  updated_at: Date;
}

const CHAMPIONS = `
  SELECT a.model_id, a.version_id, v.version, v.artifact_key, v.artifact_sha256, v.artifact_bytes,
         v.snapshot_id, s.artifact_key AS s_key, s.artifact_sha256 AS s_sha256, s.artifact_bytes AS s_bytes, s.batch_ids,
         a.previous_version_id, p.version AS previous_version, a.updated_at
    FROM model_aliases a
    JOIN model_versions v ON v.id = a.version_id
    JOIN dataset_snapshots s ON s.id = v.snapshot_id
    LEFT JOIN model_versions p ON p.id = a.previous_version_id
   WHERE a.alias = 'champion'`;

const toChampion = (r: ChampionRow): Champion => ({
  modelId: Number(r.model_id),
  versionId: r.version_id,
  version: r.version,
  artifact: refOf(r),
  snapshot: { id: r.snapshot_id, artifact: refOf({ artifact_key: r.s_key, artifact_sha256: r.s_sha256, artifact_bytes: r.s_bytes }), batchIds: r.batch_ids },
  previous: r.previous_version_id === null ? undefined : { versionId: r.previous_version_id, version: r.previous_version! },
  since: r.updated_at,
});

export async function findChampion(db: Db, modelId: number): Promise<Champion | undefined> {
  const r = await db.query<ChampionRow>(`${CHAMPIONS} AND a.model_id = $1`, [modelId]);
  return r.rows[0] && toChampion(r.rows[0]);
}

/** Every model's champion, by model id. */
export async function allChampions(db: Db): Promise<Map<number, Champion>> {
  const r = await db.query<ChampionRow>(CHAMPIONS);
  return new Map(r.rows.map((row) => [Number(row.model_id), toChampion(row)]));
}

export async function hasChampion(db: Db, model: string): Promise<boolean> {
  const r = await db.query("SELECT 1 FROM model_aliases a JOIN models m ON m.id = a.model_id WHERE m.name = $1 AND a.alias = 'champion'", [model]);
  return (r.rowCount ?? 0) > 0;
}

/** Points the champion alias at a version, remembering the one it replaces (null: none) for a rollback. */
export async function setChampion(tx: Db, modelId: number, versionId: string, previousVersionId: string | null): Promise<void> {
  await tx.query(
    `INSERT INTO model_aliases (model_id, alias, version_id, previous_version_id) VALUES ($1, 'champion', $2, $3)
     ON CONFLICT (model_id, alias) DO UPDATE SET version_id = EXCLUDED.version_id, previous_version_id = EXCLUDED.previous_version_id, updated_at = now()`,
    [modelId, versionId, previousVersionId],
  );
}

/** A model whose first version is rolled back has no champion again. */
export async function clearChampion(tx: Db, modelId: number): Promise<void> {
  await tx.query("DELETE FROM model_aliases WHERE model_id = $1 AND alias = 'champion'", [modelId]);
}

/** The workflow of the model's rollout in progress, if any. */
export async function activeRollout(db: Db, modelId: number): Promise<string | undefined> {
  const r = await db.query<{ workflow_id: string }>('SELECT workflow_id FROM rollouts WHERE model_id = $1 AND phase = ANY($2)', [modelId, ACTIVE_ROLLOUT_PHASES]);
  return r.rows[0]?.workflow_id;
}

/** What a serving replica must serve: every champion, and the candidate of a rollout in shadow or canary. */
export interface ServingTarget {
  model: string;
  spec: unknown;
  champion: { version: number; artifact: ArtifactRef };
  candidate?: { version: number; artifact: ArtifactRef; phase: 'shadow' | 'canary'; canaryPercent: number };
}

/** One statement, so a replica never sees a moved alias with the rollout phase from before the move. */
export async function servingTargets(db: Db): Promise<ServingTarget[]> {
  const r = await db.query<ChampionRow & { name: string; spec: unknown; phase: 'shadow' | 'canary' | null; canary_percent: number | null; c_version: number | null; c_key: string | null; c_sha256: string | null; c_bytes: string | null }>(
    `WITH c AS (${CHAMPIONS})
     SELECT c.*, m.name, m.spec, r.phase, r.canary_percent,
            cv.version AS c_version, cv.artifact_key AS c_key, cv.artifact_sha256 AS c_sha256, cv.artifact_bytes AS c_bytes
       FROM c JOIN models m ON m.id = c.model_id
       LEFT JOIN rollouts r ON r.model_id = m.id AND r.phase = ANY($1)
       LEFT JOIN model_versions cv ON cv.id = r.candidate_version_id`,
    [CANDIDATE_PHASES],
  );
  return r.rows.map((row) => ({
    model: row.name,
    spec: row.spec,
    champion: { version: row.version, artifact: refOf(row) },
    candidate:
      row.phase === null || row.c_sha256 === null
        ? undefined
        : { version: row.c_version!, artifact: refOf({ artifact_key: row.c_key!, artifact_sha256: row.c_sha256, artifact_bytes: row.c_bytes! }), phase: row.phase, canaryPercent: row.canary_percent ?? 0 },
  }));
}
