import { allHandlersFinished, CancellationScope, condition, isCancellation, log, patched, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { LogWindow, PipelineOutcome, ReplicaExpectation, RolloutPhase } from '../contracts/payloads';
import { judgeRollout } from '../ml/rollout-guard';
import { durationMs } from '../specs/duration';
import { chat, replicas, rollout } from './activities';
import { abortRolloutUpdate, pauseRolloutUpdate, resumeRolloutUpdate, rolloutStatusQuery, type RolloutControl, type RolloutStatus, type RolloutStep } from '../contracts/messages';
import { causeOf, rolloutDetails } from './details';
import { steering } from './steering';

export type RolloutOutcome = Extract<PipelineOutcome, { status: 'promoted' | 'rolled-back' }>;

const ROLLOUT_THREAD = 'rollout-thread';
const ROLLOUT_MAX_DURATION = 'rollout-max-duration';

/** How long replicas get to load a version before the rollout gives up on them. */
const REPLICA_WAIT_MS = 5 * 60_000;

/**
 * infra check → shadow → canary (bake) → full (watch) → done. The guard reads
 * the prediction log at every check; a regression, a failed check, replicas that
 * cannot load the candidate, an abort or a cancellation all end in the same
 * compensation: champion alias and traffic restored, reason recorded, people told.
 */
export async function rolloutWorkflow(input: { model: string; version: number; actor: string }): Promise<RolloutOutcome> {
  const { model, version } = input;
  const { workflowId } = workflowInfo();
  // Rollouts that started before their phases went to the approval card's thread replay without those posts.
  const inThread = patched(ROLLOUT_THREAD);
  const bounded = patched(ROLLOUT_MAX_DURATION);
  /** News for the card's Slack thread: best effort, it never holds up or fails the rollout. */
  const post = (e: Omit<Parameters<typeof chat.postRolloutEvent>[0], 'model' | 'version'>) =>
    inThread ? chat.postRolloutEvent({ model, version, ...e }).catch((err) => log.warn('posting a rollout event failed', { error: String(err) })) : Promise.resolve();
  const { rolloutId, policy, championVersion, operators, publicKeys } = await rollout.beginRollout({ ...input, workflowId });
  // Rollouts recorded before maxDuration existed carry none in their policy (and do not use it: see `bounded`).
  const endBy = Date.now() + durationMs(policy.maxDuration ?? '24h');
  const timeline: RolloutStep[] = [{ phase: 'checking', at: new Date().toISOString() }];
  const reached = (phase: RolloutPhase, at = new Date().toISOString(), canaryPercent?: number) => timeline.push({ phase, at, ...(canaryPercent && { canaryPercent }) });
  const s: RolloutStatus = { model, version, championVersion, phase: 'checking', timeline, canaryPercent: 0, paused: false, elapsedMs: 0, phaseMs: 0 };
  let abort: RolloutControl | undefined;
  const show = () => setCurrentDetails(rolloutDetails(s));
  const { check: steerable, signed } = steering({
    workflowId,
    model,
    version,
    operators,
    publicKeys: publicKeys ?? {},
    ended: () => (s.phase === 'completed' || s.phase === 'rolled_back' ? `the rollout of ${model} v${version} has ended (${s.phase})` : undefined),
  });
  const steer = (paused: boolean) => async (control: RolloutControl) => {
    const c = signed(control);
    s.paused = paused;
    s.note = `${paused ? 'paused' : 'resumed'} by ${c.by}${c.reason ? `: ${c.reason}` : ''}`;
    show();
    await rollout.setRolloutPhase({ rolloutId, model, phase: s.phase, paused });
    return s;
  };
  setHandler(rolloutStatusQuery, () => s);
  setHandler(pauseRolloutUpdate, steer(true), {
    validator: (c) => {
      steerable('pause')(c);
      if (s.paused) throw new Error('the rollout is already paused');
    },
  });
  setHandler(resumeRolloutUpdate, steer(false), {
    validator: (c) => {
      steerable('resume')(c);
      if (!s.paused) throw new Error('the rollout is not paused');
    },
  });
  setHandler(abortRolloutUpdate, (c) => ((abort = signed(c)), s), { validator: steerable('abort') });

  /** Moves to a phase (by default through setRolloutPhase; full traffic comes with the promotion) and returns when its window starts. */
  const enter = async (phase: RolloutPhase, canaryPercent = 0, move = () => rollout.setRolloutPhase({ rolloutId, model, phase, canaryPercent })) => {
    Object.assign(s, { phase, canaryPercent, elapsedMs: 0, phaseMs: 0, stats: undefined, verdict: undefined });
    show();
    const { at } = await move();
    reached(phase, at, canaryPercent);
    void post({ phase, canaryPercent, note: s.note });
    return at;
  };
  const promote = () => enter('full', 0, () => rollout.promoteCandidate({ rolloutId, model, version, actor: input.actor, workflowId }));
  const awaitReplicas = async (expect: ReplicaExpectation): Promise<string | undefined> => {
    const r = await replicas.awaitReplicas({ model, expect, replicaTimeoutMs: durationMs(policy.replicaTimeout), waitMs: REPLICA_WAIT_MS });
    s.replicas = r.replicas;
    show();
    return r.ready ? undefined : `replicas did not load v${expect.candidate ?? expect.champion} in time: ${r.lagging.join(', ')}`;
  };
  /** Guards one phase until its time (paused time excluded) is served with enough traffic; returns why it failed, if it did. */
  const observe = async (phaseMs: number, windows: { candidate: LogWindow; baseline: LogWindow; paired: boolean }): Promise<string | undefined> => {
    s.phaseMs = phaseMs;
    let last = Date.now();
    for (;;) {
      await condition(() => abort !== undefined, durationMs(policy.checkEvery));
      if (!s.paused) s.elapsedMs += Date.now() - last;
      last = Date.now();
      if (abort) return aborted(abort);
      s.stats = await rollout.readGuardStats({ model, ...windows, minScores: policy.minRequests, guard: policy.guard });
      s.verdict = judgeRollout(policy.guard, policy.minRequests, s.stats);
      show();
      if (!s.verdict.healthy) return s.verdict.failures.join('; ');
      if (!s.paused && s.elapsedMs >= phaseMs && s.verdict.enough) return undefined;
      if (bounded && !s.verdict.enough && Date.now() >= endBy) {
        const short = `fewer than ${policy.minRequests} requests per version (v${s.stats.candidate.version} ${s.stats.candidate.requests}, v${s.stats.baseline.version} ${s.stats.baseline.requests}) within rollout.maxDuration ${policy.maxDuration}`;
        if (policy.onNoEvidence !== 'promote') return `not enough evidence: ${short}`;
        s.note = `${short}: promoted without that evidence, as rollout.onNoEvidence says`;
        show();
        return undefined;
      }
    }
  };
  const rollBack = (reason: string) =>
    CancellationScope.nonCancellable(async (): Promise<RolloutOutcome> => {
      const { restoredChampion } = await rollout.rollBack({ rolloutId, model, version, reason, actor: abort?.by ?? 'factory', workflowId });
      Object.assign(s, { phase: 'rolled_back', reason, canaryPercent: 0 });
      reached('rolled_back');
      show();
      const back = restoredChampion ?? championVersion;
      if (back !== undefined) await awaitReplicas({ champion: back, candidate: null });
      await chat.notify({ model, version, text: `${model} v${version} was rolled back${back !== undefined ? `; v${back} serves` : ''}. Why: ${reason}` });
      await post({ phase: 'rolled_back', reason, restoredChampion: back });
      return { status: 'rolled-back', version, reason, restoredChampion };
    });
  const complete = async (previousChampion?: number): Promise<RolloutOutcome> => {
    await rollout.completeRollout({ rolloutId, model, version, workflowId });
    Object.assign(s, { phase: 'completed' });
    reached('completed');
    show();
    await post({ phase: 'completed' });
    return { status: 'promoted', version, previousChampion };
  };

  const run = async (): Promise<RolloutOutcome> => {
    show();
    const infra = await rollout.checkCandidate({ model, version }).catch((err: Error) => `infra check failed: ${causeOf(err)}`);
    if (typeof infra === 'string') return rollBack(infra);
    const before = championVersion === undefined ? undefined : await replicas.awaitReplicas({ model, expect: { champion: championVersion, candidate: null }, replicaTimeoutMs: durationMs(policy.replicaTimeout), waitMs: 0 });
    if (championVersion === undefined || before?.replicas.length === 0) {
      // Nothing to compare with live: no champion yet, or no replica serving traffic.
      s.note = championVersion === undefined ? 'first version: nothing serves yet to shadow or compare with' : 'no serving replica is running: nothing to shadow or canary, promoted directly';
      await promote();
      await awaitReplicas({ champion: version, candidate: null });
      return complete(championVersion);
    }
    let failure: string | undefined;
    if (durationMs(policy.shadow) > 0) {
      const from = await enter('shadow');
      failure = (await awaitReplicas({ champion: championVersion, candidate: version })) ?? (await observe(durationMs(policy.shadow), {
        candidate: { version, role: 'shadow', from },
        baseline: { version: championVersion, role: 'champion', from },
        paired: true,
      }));
      if (failure) return rollBack(`shadow: ${failure}`);
    }
    const canaryFrom = await enter('canary', policy.canaryPercent);
    failure = (await awaitReplicas({ champion: championVersion, candidate: version })) ?? (await observe(durationMs(policy.bake), {
      candidate: { version, role: 'canary', from: canaryFrom },
      baseline: { version: championVersion, role: 'champion', from: canaryFrom },
      paired: false,
    }));
    if (failure) return rollBack(`canary: ${failure}`);
    const fullFrom = await promote();
    failure = await awaitReplicas({ champion: version, candidate: null });
    // Watching compares the new champion with the old one's figures from the canary, when both served side by side.
    if (!failure && durationMs(policy.watch) > 0) {
      failure = await observe(durationMs(policy.watch), {
        candidate: { version, role: 'champion', from: fullFrom },
        baseline: { version: championVersion, role: 'champion', from: canaryFrom, to: fullFrom },
        paired: false,
      });
    }
    // An abort that landed while replicas were loading, with no watch phase to notice it, still counts.
    failure ??= abort && aborted(abort);
    if (failure) return rollBack(`full: ${failure}`);
    return complete(championVersion);
  };

  let outcome: RolloutOutcome;
  try {
    outcome = await run();
  } catch (err) {
    // Whatever stopped it, the old champion must be left serving.
    outcome = await rollBack(isCancellation(err) ? 'rollout cancelled' : `rollout failed: ${causeOf(err)}`);
  }
  await condition(allHandlersFinished);
  return outcome;
}

const aborted = (c: RolloutControl) => `aborted by ${c.by}${c.reason ? `: ${c.reason}` : ''}`;
