import { Client, type Pool } from 'pg';
import { logger } from '../config/logger';
import { OnnxScorer } from '../ml/scoring';
import { parseModelSpec, type ModelSpec } from '../specs/model-spec';
import type { ArtifactStore } from '../storage/artifacts';
import { CHAMPION_CHANNEL } from './channel';
import { MicroBatcher } from './micro-batcher';
import { servingMetrics } from './metrics';

export interface LoadedModel {
  model: string;
  version: number;
  sha256: string;
  spec: ModelSpec;
  scorer: OnnxScorer;
  batcher: MicroBatcher;
}


interface ChampionRow {
  name: string;
  spec: unknown;
  version: number;
  artifact_key: string;
  artifact_sha256: string;
  artifact_bytes: string;
}

/**
 * Every model's champion, loaded and warm. A promotion is learned through
 * PostgreSQL LISTEN/NOTIFY (polling as a fallback); the new version is
 * downloaded, verified, loaded in a new session and warmed up before it is
 * swapped in, and the old session is released only after its requests drain.
 */
export class ChampionSet {
  private readonly models = new Map<string, LoadedModel>();
  private listener: Client | undefined;
  private poller: NodeJS.Timeout | undefined;
  private refreshing = Promise.resolve();

  constructor(
    private readonly db: Pool,
    private readonly databaseUrl: string,
    private readonly store: ArtifactStore,
    private readonly batching: { maxRows: number; maxDelayMs: number },
  ) {}

  get(model: string): LoadedModel | undefined {
    return this.models.get(model);
  }

  versions(): Record<string, number> {
    return Object.fromEntries([...this.models].map(([name, m]) => [name, m.version]));
  }

  /** Serialised so two notifications never load the same version twice. */
  refresh(): Promise<void> {
    this.refreshing = this.refreshing.then(() => this.load()).catch((err) => logger.error({ err }, 'champion refresh failed; still serving the previous versions'));
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const rows = await this.db.query<ChampionRow>(
      `SELECT m.name, m.spec, v.version, v.artifact_key, v.artifact_sha256, v.artifact_bytes
         FROM model_aliases a JOIN models m ON m.id = a.model_id JOIN model_versions v ON v.id = a.version_id
        WHERE a.alias = 'champion'`,
    );
    for (const row of rows.rows) {
      const current = this.models.get(row.name);
      if (current?.sha256 === row.artifact_sha256) continue;
      const spec = parseModelSpec(row.spec, row.name);
      const bytes = await this.store.get({ key: row.artifact_key, sha256: row.artifact_sha256, bytes: Number(row.artifact_bytes) });
      const scorer = await OnnxScorer.load(bytes, spec.features.length);
      // Warm-up: the first runs of a session are slow; no client should pay for them.
      const canary = new Float32Array(spec.features.length * 16);
      for (let i = 0; i < 5; i++) await scorer.score(canary, 16);
      const batcher = new MicroBatcher(scorer, spec.features.length, this.batching.maxRows, this.batching.maxDelayMs, (n) =>
        servingMetrics.batchRows.observe({ model: row.name }, n),
      );
      this.models.set(row.name, { model: row.name, version: row.version, sha256: row.artifact_sha256, spec, scorer, batcher });
      servingMetrics.swaps.inc({ model: row.name });
      logger.info({ model: row.name, version: row.version, previous: current?.version }, 'champion loaded');
      if (current) void current.batcher.drained().then(() => current.scorer.release());
    }
  }

  async start(pollMs: number): Promise<void> {
    await this.refresh();
    this.listener = new Client({ connectionString: this.databaseUrl });
    this.listener.on('notification', () => void this.refresh());
    this.listener.on('error', (err) => logger.warn({ err }, 'LISTEN connection lost; polling continues'));
    await this.listener.connect();
    await this.listener.query(`LISTEN ${CHAMPION_CHANNEL}`);
    this.poller = setInterval(() => void this.refresh(), pollMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.poller);
    await this.listener?.end().catch(() => undefined);
    for (const m of this.models.values()) {
      await m.batcher.drained();
      await m.scorer.release();
    }
  }
}
