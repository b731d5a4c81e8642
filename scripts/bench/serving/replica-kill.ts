/**
 * Part 3: two replicas, one SIGKILLed during a rollout: a client that retries
 * on the other replica, and the rollout still completing once the dead replica
 * has been silent for the spec's replicaTimeout.
 */
import { now, sleep } from '../kit/timing';
import { predictPath, type Replica } from '../kit/factory-services';
import { select, startLoad } from '../kit/load-generator';
import { say, verdict } from '../kit/cli';
import type { ServingBench } from './context';

/** Runs part 3 with survivor as the replica that stays and prints its figures; returns its lines of the targets summary. */
export async function replicaKill({ options, spec, fixture, bodies, rollouts, batching }: ServingBench, survivor: Replica): Promise<string[]> {
  const { rate, connections } = options;
  say();
  say(`3. two replicas, one SIGKILLed during a rollout; the client retries a failed request once on the other replica (${rate} req/s)`);
  fixture.step('part 3: starting a second replica');
  const second = await fixture.startReplica(batching, 'killed');
  const load = await startLoad({ bases: [survivor.base, second.base], path: predictPath(spec.name), rate, connections, bodies, retry: true }, fixture.tmp);
  await sleep(3000);
  let killedAt: number | undefined;
  let killedIn = '';
  fixture.step(`part 3: rollout v${rollouts.version + 1}, killing a replica once the canary starts`);
  const r = await rollouts.next((phase) => {
    if (killedAt === undefined && phase === 'canary') {
      second.kill();
      killedAt = now();
      killedIn = phase;
    }
  });
  await sleep(2000);
  const records = await load.stop();
  const all = select(records, () => true);
  const around = killedAt === undefined ? undefined : select(records, (t) => t >= killedAt! - 1000 && t <= killedAt! + 1000);
  say(`   replica killed in phase: ${killedIn || 'never (the rollout ended first)'}`);
  say(`   rollout of v${r.version}: ${r.outcome.status}${r.outcome.reason ? ` (${r.outcome.reason})` : ''} after ${((r.end - r.start) / 1000).toFixed(1)} s (replicaTimeout ${spec.rollout.replicaTimeout})`);
  say(`   requests ${all.n}, retried on the other replica ${all.retried}, failed as the client saw them ${all.failed}, p99 ${all.p99.toFixed(2)} ms${around ? `, p99 within 1 s of the kill ${around.p99.toFixed(2)} ms` : ''}`);
  return [
    `3. failed requests (client view, with retry): ${all.failed} (target 0): ${verdict(all.failed === 0)}`,
    `3. rollout completed despite the killed replica: ${verdict(r.outcome.status === 'promoted' && killedAt !== undefined)}`,
  ];
}
