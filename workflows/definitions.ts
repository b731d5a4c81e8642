import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Decision, DecisionChannel, PipelineOutcome, RolloutPhase, Trigger } from '../activities/types';
import type { TrainingWindow } from '../activities/energy';
import type { GuardStats, GuardVerdict } from '../ml/rollout-guard';
import type { Verdict } from '../ml/policy';
import type { VersionEvaluation } from '../activities/types';

/** The messages the CLI, Slack and the Web UI send to the factory's workflows. */
export interface ApprovalRequest {
  version: number;
  approver: string;
  comment?: string;
  channel?: DecisionChannel;
}

export type Stage =
  | 'waiting-for-energy'
  | 'snapshot'
  | 'training'
  | 'evaluating'
  | 'awaiting-approval'
  | 'rolling-out'
  | 'promoted'
  | 'rolled-back'
  | 'rejected'
  | 'failed-policy';

/** Where a pipeline stops moving on its own: a person must act, or it has ended. */
export const RESTING_STAGES: Stage[] = ['awaiting-approval', 'failed-policy', 'promoted', 'rolled-back', 'rejected'];

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
  reportUrl?: string;
  approvers?: string[];
  approvalDeadline?: string;
  decision?: Decision;
  outcome?: PipelineOutcome;
}

/** Updates answer the caller (accepted, or why not); signals of the same name let staff decide from the Web UI. */
export const approveUpdate = defineUpdate<Decision, [ApprovalRequest]>('approve');
export const rejectUpdate = defineUpdate<Decision, [ApprovalRequest]>('reject');
export const approveSignal = defineSignal<[ApprovalRequest]>('approve');
export const rejectSignal = defineSignal<[ApprovalRequest]>('reject');
export const pipelineStatusQuery = defineQuery<PipelineStatus>('status');

export interface LoopState {
  model: string;
  running?: string;
  pending?: Trigger;
  coalesced: number;
  completed: number;
}

export const requestTrainingSignal = defineSignal<[Trigger]>('requestTraining');
/** From the loop to a pipeline waiting for approval: newer data wants a retrain (honoured where the spec says approval.supersede). */
export const supersedeSignal = defineSignal<[Trigger]>('supersede');
export const loopStateQuery = defineQuery<LoopState>('state');

export const loopWorkflowId = (model: string) => `factory-loop-${model}`;

export interface RolloutStatus {
  model: string;
  version: number;
  championVersion?: number;
  phase: RolloutPhase;
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

export interface RolloutControl {
  by: string;
  reason?: string;
}

/** Staff steer a rollout with updates: the answer says whether it took and where the rollout stands. */
export const pauseRolloutUpdate = defineUpdate<RolloutStatus, [RolloutControl]>('pause');
export const resumeRolloutUpdate = defineUpdate<RolloutStatus, [RolloutControl]>('resume');
export const abortRolloutUpdate = defineUpdate<RolloutStatus, [RolloutControl]>('abort');
export const rolloutStatusQuery = defineQuery<RolloutStatus>('rollout');

export const rolloutWorkflowId = (model: string, version: number) => `${model}-rollout-v${version}`;
