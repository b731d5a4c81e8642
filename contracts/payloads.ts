import type { EnergySummary } from '../energy/telemetry';
import type { Metrics, Verdict } from '../ml/policy';
import type { TaskQuality } from '../ml/measure';
import type { FairnessReport } from '../ml/quality';
import type { GroupErrorReport } from '../ml/task-quality';
import type { ModelSpec } from '../specs/model-spec';
import type { RowError } from '../specs/data-batch';
import type { ArtifactRef } from '../storage/artifacts';
import type { Vote } from '../approvals/policy';

/**
 * What crosses Temporal between workflows, activities and clients: references
 * and small summaries, never data or model bytes. Types only, so workflows,
 * activities and clients import it without side effects.
 */
export type TriggerReason = 'manual' | 'schedule' | 'rows' | 'drift';

export interface Trigger {
  reason: TriggerReason;
  requestedBy: string;
  detail?: string;
  /** Train by then (ISO time): the pipeline waits for the cheapest energy window that still meets it. */
  deadline?: string;
  /** ...or for the first window at most this expensive (per MWh). */
  maxPricePerMWh?: number;
}

/** When an energy-aware pipeline trains, and why then. */
export interface TrainingWindow {
  startAt: string;
  explanation: string;
  averagePricePerMWh: number | null;
  savingsVsNow: number | null;
  /** True when the price feed could not be read and the run starts now so the deadline holds. */
  fallback: boolean;
  source: string;
}

export interface ModelVersionRef {
  version: number;
  artifact: ArtifactRef;
}

export interface LoadedModel {
  name: string;
  spec: ModelSpec;
  champion?: ModelVersionRef;
}

export interface SnapshotRef {
  snapshotId: number;
  artifact: ArtifactRef;
  rows: number;
  /** Rows of the positive class (binary models; null for regression and multiclass). */
  positives: number | null;
  split: { train: number; validation: number; test: number };
}

export interface TrainingResult {
  artifact: ArtifactRef;
  metrics: Record<string, number>;
  summary: Record<string, unknown>;
  wallMs: number;
  /** null where it cannot be observed: an external command trainer's processes. */
  cpuMs: number | null;
  peakRssMb: number | null;
  energy: TrainingEnergy;
}

/** What a training run drew (measured by nvidia-smi, or estimated from CPU time) and what that cost. */
export interface TrainingEnergy extends EnergySummary {
  /** In `currency`; null when the price source failed or does not cover the run (costError says why). */
  cost: number | null;
  currency: string | null;
  priceSource: string;
  costError?: string;
  startedAt: string;
  endedAt: string;
}

/** One version measured on the held-out rows: every policy metric, and the detail behind the bias ones. */
export interface VersionEvaluation {
  version: number;
  metrics: Metrics;
  quality: TaskQuality;
  fairness: FairnessReport[];
  /** Regression and multiclass models' per-group errors (absent in evaluations made before those tasks). */
  groupErrors?: GroupErrorReport[];
  infra: { passed: boolean; reason: string };
}

export interface EvaluationResult {
  evaluationId: number;
  candidate: VersionEvaluation;
  champion?: VersionEvaluation;
  /** The HTML report in S3. A link to it is signed when a person asks (factory report), never kept here: it is a credential. */
  report: ArtifactRef;
}

export interface IngestResult {
  batchId: number;
  status: 'accepted' | 'quarantined';
  duplicate: boolean;
  rows: number;
  artifact: ArtifactRef;
  errors: RowError[];
  moreErrors: number;
  /** What was noticed but is no fault (header columns the spec does not use), by line or, for Parquet, by column. */
  notes: RowError[];
}

/** An ingested batch, and the retrain it asked for when it carried the new rows across the model's threshold. */
export interface IngestOutcome extends IngestResult {
  retrain?: { rows: number; threshold: number; coalesced: boolean };
}

/** What one drift check found; the full per-feature tables are in the report in S3. */
export interface DriftCheck {
  conclusive: boolean;
  retrain: boolean;
  summary: string;
  championVersion?: number;
  rows: number;
  maxPsi?: number;
  scorePsi?: number;
  driftedFeatures: string[];
  liveAuc?: number;
  labelled: number;
  reportKey?: string;
  reportSha256?: string;
}

export type DecisionChannel = 'cli' | 'slack' | 'web-ui' | 'timeout' | 'api' | 'supersede';

export interface Decision {
  decision: 'approved' | 'rejected';
  /** The verified identity whose vote decided (or "factory" for a timeout or supersede). */
  approver: string;
  channel: DecisionChannel;
  comment?: string;
  decidedAt: string;
  /** Every vote that counted, each with the id of the signed assertion it came with. */
  votes?: Vote[];
}

export type PipelineOutcome =
  | { status: 'promoted'; version: number; previousChampion?: number }
  | { status: 'rolled-back'; version: number; reason: string; restoredChampion?: number }
  | { status: 'rejected'; version: number; by: string; reason: string }
  | { status: 'failed-policy'; version: number; verdict: Verdict }
  /** The retrain gave the champion's own bytes (nothing new arrived): no version, nobody asked. */
  | { status: 'unchanged'; version: number; reason: string };

export type RolloutPhase = 'checking' | 'shadow' | 'canary' | 'full' | 'completed' | 'rolled_back';

/** Which slice of the prediction log a guard window covers. */
export interface LogWindow {
  version: number;
  role: 'champion' | 'canary' | 'shadow';
  from: string;
  to?: string;
}

/** What every live serving replica must report before a rollout step counts as done. */
export interface ReplicaExpectation {
  champion: number;
  /** The candidate version replicas must have loaded, or null when they must have none. */
  candidate: number | null;
}

export interface ReplicaReport {
  ready: boolean;
  replicas: string[];
  /** Replicas still reporting something else when the wait ended, with what they report. */
  lagging: string[];
}
