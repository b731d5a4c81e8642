import { CancellationScope, condition, executeChild, getExternalWorkflowHandle, isCancellation, patched, setCurrentDetails, sleep, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { PipelineOutcome, Trigger } from '../contracts/payloads';
import { comparePolicy } from '../ml/policy';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { data, energy, evaluation, registry, training } from './activities';
import { awaitDecision } from './approval-gate';
import { pipelineStatusQuery, rolloutReadySignal, rolloutTurnSignal, rolloutWorkflowId, supersedeSignal, type PipelineStatus, type Stage } from '../contracts/messages';
import { rolloutWorkflow } from './rollout';
import { causeOf, pipelineDetails } from './details';

const UNCHANGED_CANDIDATE = 'unchanged-candidate';
const ROLLOUT_TURN = 'rollout-turn';

/** snapshot → train (gpu) → evaluate (cpu) → policy → human decision → promote or reject. */
export async function trainingPipeline(input: { model: string; trigger: Trigger }): Promise<PipelineOutcome> {
  const { model, trigger } = input;
  const { workflowId } = workflowInfo();
  const status: PipelineStatus = { model, trigger, stage: 'snapshot' };
  setHandler(pipelineStatusQuery, () => status);
  // Only a candidate already waiting for a person can be superseded (the gate takes this over); earlier requests are the loop's follow-up.
  setHandler(supersedeSignal, () => undefined);
  let turn = false;
  setHandler(rolloutTurnSignal, () => void (turn = true));
  const stage = (s: Stage) => {
    status.stage = s;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryStage, value: s }]);
    setCurrentDetails(pipelineDetails(status));
  };
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.FactoryModel, value: model },
    { key: SEARCH_ATTRIBUTES.FactoryTrigger, value: trigger.reason },
  ]);
  if (trigger.deadline) {
    // Energy-aware: wait on a durable timer for the cheapest window that still meets the deadline.
    status.energyWindow = await energy.planTrainingWindow({ model, deadline: trigger.deadline, maxPricePerMWh: trigger.maxPricePerMWh });
    stage('waiting-for-energy');
    await sleep(Math.max(0, Date.parse(status.energyWindow.startAt) - Date.now()));
  }
  stage('snapshot');
  const { spec, champion } = await registry.loadModel(model);
  status.championVersion = champion?.version;
  const snapshot = await data.createSnapshot({ model });
  status.snapshotSha256 = snapshot.artifact.sha256;

  stage('training');
  const trained = await training.trainCandidate({ spec, snapshot });
  // Training is deterministic: the champion's own bytes mean the same data and spec, so there is nothing to decide.
  if (patched(UNCHANGED_CANDIDATE) && champion && trained.artifact.sha256 === champion.artifact.sha256) {
    const reason = `retrained on snapshot ${snapshot.artifact.sha256.slice(0, 12)}, the result is v${champion.version}'s model byte for byte (sha256 ${trained.artifact.sha256.slice(0, 12)}): nothing new to approve`;
    await registry.recordAudit({ actor: 'factory', action: 'pipeline.unchanged', model, version: champion.version, outcome: 'ok', details: { reason, workflowId, trigger: trigger.reason } });
    Object.assign(status, { modelSha256: trained.artifact.sha256 });
    stage('unchanged');
    return (status.outcome = { status: 'unchanged', version: champion.version, reason });
  }
  const { version } = await registry.registerCandidate({ model, workflowId, trigger, snapshot, training: trained });
  Object.assign(status, { version, modelSha256: trained.artifact.sha256 });
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryCandidateVersion, value: version }]);

  return markFailedOnError(model, version, async () => {
    /** Evaluates the candidate beside a champion and applies the policy; the outcome when the policy rejects it. */
    const judge = async (against: typeof champion): Promise<PipelineOutcome | undefined> => {
      const evaluated = await evaluation.evaluateCandidate({ model, snapshot, candidate: { version, artifact: trained.artifact }, champion: against });
      const verdict = comparePolicy(spec.policy, evaluated.candidate.metrics, evaluated.champion?.metrics, evaluated.candidate.infra);
      Object.assign(status, { championVersion: against?.version, candidate: evaluated.candidate, champion: evaluated.champion, verdict, reportKey: evaluated.report.key });
      await registry.recordVerdict({ evaluationId: evaluated.evaluationId, verdict });
      if (verdict.passed || spec.policy.onFail !== 'reject') return undefined;
      await registry.setVersionStatus({ model, version, status: 'failed_policy', reason: verdict.failures.join('; ') });
      stage('failed-policy');
      return (status.outcome = { status: 'failed-policy', version, verdict });
    };
    stage('evaluating');
    const failed = await judge(champion);
    if (failed) return failed;

    await registry.setVersionStatus({ model, version, status: 'awaiting_approval' });
    status.approvers = spec.approval.approvers;
    stage('awaiting-approval');
    status.decision = await awaitDecision({ model, version, spec, workflowId, trigger }, (gate) => {
      Object.assign(status, { approvers: gate.approvers, approvalDeadline: gate.deadline, votes: gate.votes, approvalsRequired: gate.required, slackCard: gate.slackCard, refused: gate.refused });
      setCurrentDetails(pipelineDetails(status));
    });
    await registry.recordDecision({ model, version, workflowId, decision: status.decision });
    if (status.decision.decision === 'rejected') {
      stage('rejected');
      return (status.outcome = { status: 'rejected', version, by: status.decision.approver, reason: status.decision.comment ?? '' });
    }

    // One rollout per model at a time; the loop trains the next candidate meanwhile and says when this one's turn has come.
    const loop = workflowInfo().parent;
    if (patched(ROLLOUT_TURN) && loop) {
      stage('waiting-for-rollout');
      await getExternalWorkflowHandle(loop.workflowId).signal(rolloutReadySignal, { pipeline: workflowId });
      await condition(() => turn);
      // A rollout that ended meanwhile may have changed the champion: the approval stands only if the policy still passes against today's.
      const now = await registry.loadModel(model);
      if (now.champion?.version !== champion?.version) {
        const failedNow = await judge(now.champion);
        if (failedNow) return failedNow;
      }
    }
    stage('rolling-out');
    const outcome = await executeChild(rolloutWorkflow, {
      workflowId: rolloutWorkflowId(model, version),
      args: [{ model, version, actor: status.decision.approver }],
      staticSummary: `${model} v${version}: rollout approved by ${status.decision.approver}`,
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.FactoryModel, value: model },
        { key: SEARCH_ATTRIBUTES.FactoryCandidateVersion, value: version },
      ],
    });
    stage(outcome.status);
    return (status.outcome = outcome);
  });
}

/** A registered version whose pipeline fails or is cancelled is marked failed, with why, instead of staying a candidate forever. */
async function markFailedOnError<T>(model: string, version: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const reason = isCancellation(err) ? 'pipeline cancelled' : `pipeline failed: ${causeOf(err)}`;
    await CancellationScope.nonCancellable(() => registry.setVersionStatus({ model, version, status: 'failed', reason }));
    throw err;
  }
}
