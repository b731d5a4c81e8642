/**
 * Part 2: champion swaps under sustained load, each a real rollout
 * (shadow → canary → full) run by rolloutWorkflow on the real control worker:
 * failed requests, and p99 during rollouts vs steady state, from a load
 * generator that keeps every request's start time and latency.
 */
import { now, sleep } from '../kit/timing';
import { predictPath, type Replica } from '../kit/factory-services';
import { select, startLoad, type Selection } from '../kit/load-generator';
import { say, verdict } from '../kit/cli';
import type { ServingBench } from './context';

const inAny = (windows: [number, number][], t: number) => windows.some(([a, b]) => t >= a && t <= b);

/** Runs part 2 against replica and prints its table; returns its lines of the targets summary. */
export async function championSwaps({ options, spec, fixture, bodies, modelId, rollouts }: ServingBench, replica: Replica): Promise<string[]> {
  const { swaps, rate, connections } = options;
  say();
  say(`2. ${swaps} champion swaps, each a rollout (shadow 1s → canary 30% 1s → full) via Temporal, under ${rate} req/s open-loop batch-1 load (one replica, no client retry)`);
  const load = await startLoad({ bases: [replica.base], path: predictPath(spec.name), rate, connections, bodies, retry: false }, fixture.tmp);
  const loadStart = now();
  fixture.step('part 2: steady state');
  await sleep(10_000);
  const windows: [number, number][] = [];
  const byPhase: Record<string, [number, number][]> = {};
  const swapsAt: number[] = [];
  let promoted = 0;
  const outcomes: string[] = [];
  for (let i = 0; i < swaps; i++) {
    fixture.step(`part 2: rollout ${i + 1}/${swaps} (v${rollouts.version + 1})`);
    const r = await rollouts.next();
    windows.push([r.start, r.end]);
    r.phases.forEach((p, k) => (byPhase[p.phase] ??= []).push([p.at, r.phases[k + 1]?.at ?? r.end]));
    if (r.outcome.status === 'promoted') promoted++;
    else outcomes.push(`v${r.version}: ${r.outcome.status} ${r.outcome.reason ?? ''}`);
    await sleep(1000);
  }
  fixture.step('part 2: steady state after the swaps');
  await sleep(5000);
  const records = await load.stop();
  const deployments = await fixture.db.query<{ at: Date }>("SELECT d.created_at AS at FROM deployments d WHERE d.model_id = $1 AND d.action = 'promote' ORDER BY d.id", [modelId]);
  for (const d of deployments.rows.slice(1)) swapsAt.push(d.at.getTime());
  const warm = loadStart + 2000;
  const steady = select(records, (t) => t >= warm && !inAny(windows, t) && !inAny(windows.map(([, b]) => [b, b + 500]), t));
  const during = select(records, (t) => inAny(windows, t));
  const nearSwap = select(records, (t) => swapsAt.some((s) => Math.abs(t - s) <= 1000));
  const all = select(records, () => true);
  const wallS = windows.reduce((s, [a, b]) => s + (b - a), 0) / 1000 / Math.max(1, windows.length);
  say(`   rollouts promoted: ${promoted}/${swaps} (mean ${wallS.toFixed(1)} s each)${outcomes.length ? `; not promoted: ${outcomes.join('; ')}` : ''}`);
  const row = (name: string, s: Selection) =>
    say(`   ${name.padEnd(42)} ${String(s.n).padStart(8)} ${String(s.failed).padStart(6)} ${s.p50.toFixed(2).padStart(7)} ${s.p99.toFixed(2).padStart(7)} ${s.max.toFixed(1).padStart(7)}`);
  say(`   ${'window'.padEnd(42)} ${'requests'.padStart(8)} ${'failed'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)}`);
  row('steady state (outside rollouts)', steady);
  row('during rollouts (start to completion)', during);
  for (const [phase, what] of [['checking', 'infra check'], ['shadow', 'shadow (candidate scores a copy)'], ['canary', 'canary (30% answered by the candidate)'], ['full', 'full (promoted, until completion)']]) {
    if (byPhase[phase]) row(`  ${what}`, select(records, (t) => inAny(byPhase[phase], t)));
  }
  row('within 1 s of each champion swap', nearSwap);
  // Where around a swap the slow answers fall, in quarter seconds: what "within 1 s" is made of.
  const quarters = [-1000, -750, -500, -250, 0, 250, 500, 750].map((from) => {
    const s = select(records, (t) => swapsAt.some((at) => t - at >= from && t - at < from + 250));
    return `${from >= 0 ? '+' : ''}${from}: ${s.p99.toFixed(1)}`;
  });
  say(`   p99 ms by quarter second from the swap: ${quarters.join(', ')}`);
  row('whole run', all);
  const ratio = during.p99 / steady.p99;
  return [
    `2. swaps promoted: ${promoted}/${swaps}: ${verdict(promoted === swaps)}`,
    `2. failed requests: ${all.failed} (target 0): ${verdict(all.failed === 0)}`,
    `2. p99 during rollouts / steady: ${during.p99.toFixed(2)} / ${steady.p99.toFixed(2)} ms = ${ratio.toFixed(2)}x (target <= 1.5x): ${verdict(ratio <= 1.5)}`,
    `2. p99 within 1 s of a swap / steady: ${(nearSwap.p99 / steady.p99).toFixed(2)}x (target <= 1.5x): ${verdict(nearSwap.p99 / steady.p99 <= 1.5)}`,
  ];
}
