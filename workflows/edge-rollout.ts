import { condition, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  abortEdgeRolloutUpdate,
  edgeRolloutStatusQuery,
  pauseEdgeRolloutUpdate,
  resumeEdgeRolloutUpdate,
  type EdgeRing,
  type EdgeRolloutStatus,
  type RolloutControl,
} from '../contracts/messages';
import { durationMs } from '../specs/duration';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { chat, edge } from './activities';
import { edgeRolloutDetails } from './details';
import { steering } from './steering';

export type EdgeRolloutOutcome = { status: 'completed'; version: number; devices: number } | { status: 'rolled-back'; version: number; reason: string };

/** Why a rollout rolls back, carried to the one place that does it. */
class RollBack extends Error {}

/**
 * A model version to a device group, ring by ring: each ring's devices are
 * told to serve it (a new signed manifest each), then the rollout waits for
 * their reports (the version loaded, traffic within the model's guard),
 * counting devices not yet heard from as pending, and bakes on durable timers.
 * Too many failed devices, or an operator's abort, roll back: every device it
 * touched gets a newer manifest naming the version it served before.
 */
export async function edgeRolloutWorkflow(input: { model: string; version: number; group: string; rings: number[]; actor: string }): Promise<EdgeRolloutOutcome> {
  const { model, version, group } = input;
  const { workflowId } = workflowInfo();
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.FactoryModel, value: model }]);
  const { deploymentId, devices, previous, policy, operators, publicKeys } = await edge.beginEdgeDeployment({ ...input, workflowId });

  // Each ring brings the version to its share of the group (at least one more device), in the group's order.
  let taken = 0;
  const rings: EdgeRing[] = [];
  for (const percent of input.rings) {
    const upto = Math.min(devices.length, Math.max(taken + 1, Math.ceil((percent / 100) * devices.length)));
    if (upto > taken) rings.push({ percent, devices: devices.slice(taken, upto).map((device) => ({ device, state: 'pending' })), stage: 'waiting', bakedMs: 0 });
    taken = upto;
  }
  const s: EdgeRolloutStatus = { model, version, group, rings, phase: 'deploying', paused: false };
  const show = () => setCurrentDetails(edgeRolloutDetails(s));
  let abort: RolloutControl | undefined;

  const { check: steerable, signed } = steering({
    workflowId,
    model,
    version,
    operators,
    publicKeys,
    ended: () => (s.phase !== 'deploying' ? `the edge rollout of ${model} v${version} to ${group} has ended (${s.phase})` : undefined),
  });
  const steer = (paused: boolean) => (control: RolloutControl) => {
    const c = signed(control);
    s.paused = paused;
    s.note = `${paused ? 'paused' : 'resumed'} by ${c.by}${c.reason ? `: ${c.reason}` : ''}`;
    show();
    return s;
  };
  setHandler(edgeRolloutStatusQuery, () => s);
  setHandler(pauseEdgeRolloutUpdate, steer(true), {
    validator: (c) => {
      steerable('pause')(c);
      if (s.paused) throw new Error('the rollout is already paused');
    },
  });
  setHandler(resumeEdgeRolloutUpdate, steer(false), {
    validator: (c) => {
      steerable('resume')(c);
      if (!s.paused) throw new Error('the rollout is not paused');
    },
  });
  setHandler(abortEdgeRolloutUpdate, (c) => ((abort = signed(c)), s), { validator: steerable('abort') });

  const touched: string[] = [];
  const checkMs = durationMs(policy.checkEvery);
  const bakeMs = durationMs(policy.bake);
  try {
    for (const ring of rings) {
      ring.stage = 'deploying';
      show();
      const since = new Date().toISOString();
      await edge.assignVersion({ deploymentId, model, versions: Object.fromEntries(ring.devices.map((d) => [d.device, version])) });
      touched.push(...ring.devices.map((d) => d.device));
      let last = Date.now();
      while (ring.bakedMs < bakeMs) {
        if (abort) throw new RollBack(`aborted by ${abort.by}${abort.reason ? `: ${abort.reason}` : ''}`);
        ring.devices = await edge.ringHealth({ model, version, devices: ring.devices.map((d) => d.device), previous, since, guard: policy.guard, minRequests: policy.minRequests });
        const failed = ring.devices.filter((d) => d.state === 'failed');
        const pending = ring.devices.filter((d) => d.state === 'pending').length;
        if (failed.length / ring.devices.length > policy.maxFailedShare) {
          throw new RollBack(`${failed.length} of ${ring.devices.length} devices of the ${ring.percent}% ring failed (above ${100 * policy.maxFailedShare}%): ${failed.map((d) => `${d.device}: ${d.state === 'failed' ? d.reason : ''}`).join('; ')}`);
        }
        const now = Date.now();
        // The bake counts only while the ring is healthy enough and nobody paused it.
        if (pending / ring.devices.length <= policy.maxPendingShare && !s.paused) {
          ring.stage = 'baking';
          ring.bakedMs += now - last;
        }
        last = now;
        show();
        if (ring.bakedMs >= bakeMs) break;
        await condition(() => abort !== undefined, checkMs);
      }
      ring.stage = 'done';
      show();
    }
    s.phase = 'completed';
    show();
    await edge.finishEdgeDeployment({ deploymentId, model, version, status: 'completed', actor: input.actor });
    return { status: 'completed', version, devices: devices.length };
  } catch (err) {
    if (!(err instanceof RollBack)) throw err;
    s.phase = 'rolled_back';
    s.reason = err.message;
    show();
    // New manifests with higher serials naming what each device served before (none: the model withdrawn).
    await edge.assignVersion({ deploymentId, model, versions: Object.fromEntries(touched.map((d) => [d, previous[d] ?? 0])) });
    await edge.finishEdgeDeployment({ deploymentId, model, version, status: 'rolled_back', reason: err.message, actor: input.actor });
    await chat.notify({ model, version, text: `${model} v${version} edge rollout to ${group} rolled back: ${err.message}` }).catch(() => undefined);
    return { status: 'rolled-back', version, reason: err.message };
  }
}
