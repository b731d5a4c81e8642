import os from 'node:os';
import { Client, type Pool } from 'pg';
import { logger } from '../config/logger';
import { OnnxScorer } from '../ml/scoring';
import { parseModelSpec, type ModelSpec } from '../specs/model-spec';
import type { ArtifactRef, ArtifactStore } from '../storage/artifacts';
import { CHAMPION_CHANNEL, servingTargets } from '../db/champion';
import { MicroBatcher } from './micro-batcher';
import { ShadowScorer } from './shadow-scorer';
import { servingMetrics } from './metrics';

/** One version in memory: its session, warm, behind its own micro-batcher, and its shadow scorer for when it is a candidate. */
export interface LoadedVersion {
  version: number;
  sha256: string;
  scorer: OnnxScorer;
  batcher: MicroBatcher;
  shadow: ShadowScorer;
}

/** Shadow copies waiting beyond this many rows are refused: a candidate that cannot keep up is sampled, never queued behind answers. */
const SHADOW_MAX_ROWS = 1024;

/** What a replica serves for one model: the champion, and during a rollout the candidate beside it. */
export interface ServedModel {
  model: string;
  spec: ModelSpec;
  champion: LoadedVersion;
  candidate?: LoadedVersion;
  rollout?: { phase: 'shadow' | 'canary'; canaryPercent: number };
}

/**
 * Every model's champion (and rollout candidate), loaded and warm. Changes are
 * learned through PostgreSQL LISTEN/NOTIFY, with polling as a fallback: a new
 * version is downloaded, verified, loaded in its own session and warmed up
 * before it is swapped in, and a session is released only after its requests
 * drain. The replica reports what it serves so rollouts can wait for it.
 */
export class ServedModels {
  private readonly models = new Map<string, ServedModel>();
  private listener: Client | undefined;
  private timers: NodeJS.Timeout[] = [];
  private refreshing = Promise.resolve();
  readonly replicaId: string;

  constructor(
    private readonly db: Pool,
    private readonly databaseUrl: string,
    private readonly store: ArtifactStore,
    private readonly batching: { maxRows: number; maxDelayMs: number },
    private readonly url: string,
  ) {
    this.replicaId = `${os.hostname()}:${new URL(url).port || 80}:${process.pid}`;
  }

  get(model: string): ServedModel | undefined {
    return this.models.get(model);
  }

  /** What this replica serves, as it reports it to the registry. */
  serving(): Record<string, { champion: number; candidate: number | null; phase: string | null }> {
    return Object.fromEntries(
      [...this.models].map(([name, m]) => [name, { champion: m.champion.version, candidate: m.candidate?.version ?? null, phase: m.rollout?.phase ?? null }]),
    );
  }

  /** Serialised so two notifications never load the same version twice. */
  refresh(): Promise<void> {
    this.refreshing = this.refreshing
      .then(() => this.load())
      .then(() => this.report())
      .catch((err) => logger.error({ err }, 'refresh failed; still serving the previous versions'));
    return this.refreshing;
  }

  /**
   * Brings every model to its targets. A model whose version cannot be loaded
   * (bytes that fail their sha256, a session that will not start) keeps what
   * it served, or is not served, and says so; the other models load on.
   */
  private async load(): Promise<void> {
    const seen = new Set<string>();
    for (const target of await servingTargets(this.db)) {
      seen.add(target.model);
      try {
        await this.loadModel(target);
      } catch (err) {
        servingMetrics.loadFailures.inc({ model: target.model });
        logger.error({ err, model: target.model, champion: target.champion.version, candidate: target.candidate?.version }, 'cannot load this model\'s versions; it keeps what it served, if anything');
      }
    }
    for (const [name, current] of this.models) {
      if (seen.has(name)) continue;
      this.models.delete(name);
      this.retire(current);
    }
  }

  private async loadModel(target: Awaited<ReturnType<typeof servingTargets>>[number]): Promise<void> {
    const current = this.models.get(target.model);
    // The same parsed spec while it is unchanged: the request path caches its validators on it.
    const spec = current && JSON.stringify(target.spec) === JSON.stringify(current.spec) ? current.spec : parseModelSpec(target.spec, target.model);
    const load = async (v: { version: number; artifact: ArtifactRef }) =>
      [current?.champion, current?.candidate].find((loaded) => loaded?.sha256 === v.artifact.sha256) ?? (await this.loadVersion(target.model, spec, v.version, v.artifact));
    const champion = await load(target.champion);
    const candidate = target.candidate && (await load(target.candidate));
    const c = target.candidate;
    const next: ServedModel = { model: target.model, spec, champion, candidate, rollout: c && { phase: c.phase, canaryPercent: c.canaryPercent } };
    this.models.set(target.model, next);
    if (current) this.retire(current, next);
  }

  /** Counts what changed and releases sessions no longer served, once their requests drain. */
  private retire(previous: ServedModel, next?: ServedModel): void {
    const kept = new Set([next?.champion, next?.candidate]);
    if (next && previous.champion !== next.champion) {
      servingMetrics.swaps.inc({ model: previous.model });
      logger.info({ model: previous.model, version: next.champion.version, previous: previous.champion.version }, 'champion swapped');
    }
    if (previous.candidate && !next?.candidate && next?.champion !== previous.candidate) {
      servingMetrics.rollbacks.inc({ model: previous.model });
      logger.warn({ model: previous.model, version: previous.candidate.version }, 'candidate withdrawn: rolled back');
    }
    for (const v of [previous.champion, previous.candidate]) {
      if (v && !kept.has(v)) void Promise.all([v.batcher.drained(), v.shadow.drained()]).then(() => v.scorer.release());
    }
  }

  private async loadVersion(model: string, spec: ModelSpec, version: number, ref: ArtifactRef): Promise<LoadedVersion> {
    const bytes = await this.store.get(ref);
    const scorer = await OnnxScorer.load(bytes, spec);
    // Warm-up: the first runs of a session are slow; no client should pay for them.
    const canary = new Float32Array(spec.features.length * 16);
    for (let i = 0; i < 5; i++) await scorer.score(canary, 16);
    const batcher = new MicroBatcher(scorer, spec.features.length, this.batching.maxRows, this.batching.maxDelayMs, (n) => servingMetrics.batchRows.observe({ model }, n));
    const shadow = new ShadowScorer(scorer, spec.features.length, () => this.models.get(model)?.champion.batcher.idle ?? true, SHADOW_MAX_ROWS);
    logger.info({ model, version, sha256: ref.sha256 }, 'version loaded');
    return { version, sha256: ref.sha256, scorer, batcher, shadow };
  }

  /** Tells the registry what this replica serves; rollouts wait on these reports. */
  private async report(): Promise<void> {
    await this.db.query(
      `INSERT INTO serving_replicas (replica_id, url, serving) VALUES ($1, $2, $3)
       ON CONFLICT (replica_id) DO UPDATE SET serving = EXCLUDED.serving, url = EXCLUDED.url, heartbeat_at = now()`,
      [this.replicaId, this.url, JSON.stringify(this.serving())],
    );
  }

  async start(pollMs: number, heartbeatMs: number): Promise<void> {
    // Listening first, then loading: a change made in between is either loaded or notified, never missed.
    this.listener = new Client({ connectionString: this.databaseUrl });
    this.listener.on('notification', () => void this.refresh());
    this.listener.on('error', (err) => logger.warn({ err }, 'LISTEN connection lost; polling continues'));
    await this.listener.connect();
    await this.listener.query(`LISTEN ${CHAMPION_CHANNEL}`);
    await this.refresh();
    this.timers = [
      setInterval(() => void this.refresh(), pollMs),
      setInterval(() => void this.report().catch((err) => logger.warn({ err }, 'replica report failed')), heartbeatMs),
    ];
  }

  async stop(): Promise<void> {
    this.timers.forEach(clearInterval);
    await this.listener?.end().catch(() => undefined);
    // Leaving now, not after a timeout: a rollout need not wait for this replica any more.
    await this.db.query('DELETE FROM serving_replicas WHERE replica_id = $1', [this.replicaId]).catch(() => undefined);
    for (const m of this.models.values()) {
      for (const v of [m.champion, m.candidate]) {
        if (!v) continue;
        await Promise.all([v.batcher.drained(), v.shadow.drained()]);
        await v.scorer.release();
      }
    }
  }
}
