import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { GuardStats, GuardVerdict } from '../ml/rollout-guard';
import type { SignedAssertion } from '../approvals/assertion';
import type { Vote } from '../approvals/policy';
import type { Verdict } from '../ml/policy';
import type { Decision, DecisionChannel, PipelineOutcome, RolloutPhase, TrainingWindow, Trigger, VersionEvaluation } from './payloads';

/**
 * The factory's workflow messages (signals, updates, queries) and the ids by
 * which clients find workflows: shared by workflows, activities and clients,
 * so nothing here may import anything with side effects.
 */

/**
 * A decision as the approvals service sends it: the signed assertion is what
 * counts. The other fields are what a hand-written signal or update (the Web
 * UI, `temporal workflow update`) tends to carry; they are read only to say
 * in the refusal and the audit trail who claimed to decide.
 */
export interface ApprovalRequest {
  version: number;
  assertion?: SignedAssertion;
  approver?: string;
  comment?: string;
  channel?: DecisionChannel;
}

/** An attempt at a decision that did not count, as the Web UI shows it. */
export interface Refusal {
  at: string;
  by: string;
  via: 'update' | 'signal';
  reason: string;
}

/** What an approve or reject update answers: the decision once taken, and the votes so far. */
export interface GateAnswer {
  decision?: Decision;
  votes: Vote[];
  required: number;
  missing: number;
}

export type Stage =
  | 'waiting-for-energy'
  | 'snapshot'
  | 'training'
  | 'evaluating'
  | 'awaiting-approval'
  | 'waiting-for-rollout'
  | 'rolling-out'
  | 'promoted'
  | 'rolled-back'
  | 'rejected'
  | 'failed-policy'
  | 'unchanged';

/** Where a pipeline stops moving on its own: a person must act, or it has ended. */
export const RESTING_STAGES: Stage[] = ['awaiting-approval', 'failed-policy', 'promoted', 'rolled-back', 'rejected', 'unchanged'];

export interface PipelineStatus {
  model: string;
  stage: Stage;
  trigger: Trigger;
  energyWindow?: TrainingWindow;
  version?: number;
  championVersion?: number;
  snapshotSha256?: string;
  modelSha256?: string;
  candidate?: VersionEvaluation;
  champion?: VersionEvaluation;
  verdict?: Verdict;
  /** The evaluation report's S3 key; `factory report <model> <version>` signs a link to it. */
  reportKey?: string;
  approvers?: string[];
  approvalDeadline?: string;
  /** At the gate: the votes so far, how many approvals are needed, and the Slack card if one was posted. */
  votes?: Vote[];
  approvalsRequired?: number;
  slackCard?: string;
  refused?: Refusal[];
  decision?: Decision;
  outcome?: PipelineOutcome;
}

/** Updates answer the caller (accepted, or why not); signals of the same name let staff decide from the Web UI. */
export const approveUpdate = defineUpdate<GateAnswer, [ApprovalRequest]>('approve');
export const rejectUpdate = defineUpdate<GateAnswer, [ApprovalRequest]>('reject');
export const approveSignal = defineSignal<[ApprovalRequest]>('approve');
export const rejectSignal = defineSignal<[ApprovalRequest]>('reject');
export const pipelineStatusQuery = defineQuery<PipelineStatus>('status');

export interface LoopState {
  model: string;
  /** The pipeline on its way to a rollout: training, evaluating, at the gate, or approved and waiting its turn. */
  running?: string;
  /** The pipeline whose rollout runs now: at most one per model, while the next candidate is already being made. */
  rollingOut?: string;
  /** The running pipeline is approved and waits for `rollingOut` to end. */
  awaitingTurn?: boolean;
  pending?: Trigger;
  coalesced: number;
  completed: number;
}

export const requestTrainingSignal = defineSignal<[Trigger]>('requestTraining');
/** From the loop to a pipeline waiting for approval: newer data wants a retrain (honoured where the spec says approval.supersede). */
export const supersedeSignal = defineSignal<[Trigger]>('supersede');
export const loopStateQuery = defineQuery<LoopState>('state');
/** From an approved pipeline to its loop: ready to roll out. */
export const rolloutReadySignal = defineSignal<[{ pipeline: string }]>('rolloutReady');
/** From the loop to that pipeline: no other rollout of the model runs now; go. */
export const rolloutTurnSignal = defineSignal('rolloutTurn');

export const loopWorkflowId = (model: string) => `factory-loop-${model}`;

/** A phase a rollout entered: when its window began (ISO time), and for a canary the share it answered. */
export interface RolloutStep {
  phase: RolloutPhase;
  at: string;
  canaryPercent?: number;
}

/** A step as people read it: "shadow", "canary at 30%". */
export const stepText = (t: Omit<RolloutStep, 'at'>) => `${t.phase}${t.canaryPercent ? ` at ${t.canaryPercent}%` : ''}`;

export interface RolloutStatus {
  model: string;
  version: number;
  championVersion?: number;
  phase: RolloutPhase;
  /**
   * Every phase entered so far, so a client that looks now and then misses
   * none. Absent in answers from a worker build older than it.
   */
  timeline?: RolloutStep[];
  canaryPercent: number;
  paused: boolean;
  /** Time spent in the current phase, paused time excluded, against what the phase needs. */
  elapsedMs: number;
  phaseMs: number;
  /** The guard's last reading and verdict. */
  stats?: GuardStats;
  verdict?: GuardVerdict;
  replicas?: string[];
  note?: string;
  reason?: string;
}

/** Steering from the approvals service: the assertion is what counts; `by` only names who claims to steer. */
export interface RolloutControl {
  by: string;
  reason?: string;
  assertion?: SignedAssertion;
}

/** Staff steer a rollout with updates: the answer says whether it took and where the rollout stands. */
export const pauseRolloutUpdate = defineUpdate<RolloutStatus, [RolloutControl]>('pause');
export const resumeRolloutUpdate = defineUpdate<RolloutStatus, [RolloutControl]>('resume');
export const abortRolloutUpdate = defineUpdate<RolloutStatus, [RolloutControl]>('abort');
export const rolloutStatusQuery = defineQuery<RolloutStatus>('rollout');

export const rolloutWorkflowId = (model: string, version: number) => `${model}-rollout-v${version}`;

/** A device's place in an edge rollout: serving the new version and healthy, not yet heard from, or failed (and why). */
export type EdgeDeviceState = { device: string; state: 'done' | 'pending' } | { device: string; state: 'failed'; reason: string };

export interface EdgeRing {
  /** The share of the group this ring brings the version to, cumulative. */
  percent: number;
  devices: EdgeDeviceState[];
  stage: 'waiting' | 'deploying' | 'baking' | 'done';
  /** Bake time served, paused time excluded, against the spec's. */
  bakedMs: number;
}

export interface EdgeRolloutStatus {
  model: string;
  version: number;
  group: string;
  rings: EdgeRing[];
  phase: 'deploying' | 'completed' | 'rolled_back';
  paused: boolean;
  note?: string;
  reason?: string;
}

export const pauseEdgeRolloutUpdate = defineUpdate<EdgeRolloutStatus, [RolloutControl]>('pause');
export const resumeEdgeRolloutUpdate = defineUpdate<EdgeRolloutStatus, [RolloutControl]>('resume');
export const abortEdgeRolloutUpdate = defineUpdate<EdgeRolloutStatus, [RolloutControl]>('abort');
export const edgeRolloutStatusQuery = defineQuery<EdgeRolloutStatus>('edgeRollout');

export const edgeRolloutWorkflowId = (model: string, version: number, group: string) => `${model}-edge-v${version}-${group}`;
