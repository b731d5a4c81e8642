import fs from 'node:fs';
import type { FactoryEnv } from '../../config/env';
import { logger } from '../../config/logger';
import { SHIFT_FROM, type DriftScenario } from '../../data/drift-scenario';
import { hasChampion } from '../../db/champion';
import { findModel } from '../../db/models';
import { toInstance, validateBatch } from '../../specs/data-batch';
import type { ModelSpec } from '../../specs/model-spec';
import type { CliContext } from './context';
import { describeIngest, ingest } from './ingest';

/**
 * What makes the main job a factory rather than a single run: the shipped data
 * arrives as a stream. While month m is "current", its clients are scored by
 * the serving replica (about `rate` requests a second, each with its row id);
 * at the month's end its labelled batch is ingested, which is what the row
 * threshold, the drift monitor and live metrics react to. Credit-default's
 * months carry a drift scenario from month SHIFT_FROM (data/drift-scenario.ts:
 * a new client segment enters); bike-sharing's need none, its demand drifts by
 * itself. After the last month
 * the traffic keeps cycling through it, so rollouts always have live requests
 * to judge.
 */
export async function demoStream(
  ctx: CliContext,
  opts: { model: string; months: string[]; from: number; monthMs: number; rate: number; servingUrl: string; driftScenario?: DriftScenario },
  print: (s: string) => void,
): Promise<never> {
  const files = opts.months;
  const { spec } = await findModel(ctx.db, opts.model);
  await waitForChampion(ctx, opts.model);
  print(`\nstream (${opts.model}): from now on a month passes every ${opts.monthMs / 1000}s: its clients are scored at ~${opts.rate}/s, then its labelled batch arrives${opts.driftScenario ? ` (${opts.driftScenario} drift from month ${SHIFT_FROM})` : ''}.`);
  for (let m = opts.from; ; m++) {
    const file = files[Math.min(m, files.length) - 1];
    const served = await sendMonth(ctx.env, { ...opts, spec }, file, opts.monthMs);
    if (m > files.length) {
      print(`stream (${opts.model}): ${served.ok} predictions (${served.versions}) on month ${files.length} clients, ${served.failed} failed`);
      continue;
    }
    print(`stream (${opts.model}): month ${m}${opts.driftScenario && m >= SHIFT_FROM ? ' (shifted)' : ''}: ${served.ok} predictions served by ${served.versions}, ${served.failed} failed`);
    print(`  ${describeIngest(opts.model, file, await ingest(ctx, opts.model, file)).replace(/\n/g, '\n  ')}`);
  }
}

/** The stream starts once someone has approved a first champion: before that there is nothing to serve. */
async function waitForChampion(ctx: CliContext, model: string): Promise<void> {
  for (;;) {
    if (await hasChampion(ctx.db, model)) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Scores one month's clients at a steady rate for the month's duration, as clients of the replica would. */
async function sendMonth(env: FactoryEnv, opts: { model: string; rate: number; servingUrl: string; spec: ModelSpec }, file: string, ms: number) {
  // Clients send their id (labels arrive later and join on it), never the label itself.
  const instances = validateBatch(opts.spec, fs.readFileSync(file, 'utf8')).rows.map((r) => toInstance(opts.spec, r));
  const token = env.SERVING_TOKENS.split(',')[0]?.trim();
  const seen = new Map<number, number>();
  let ok = 0;
  let failed = 0;
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    const instance = instances[i % instances.length];
    const started = Date.now();
    try {
      const res = await fetch(`${opts.servingUrl}/v1/models/${opts.model}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify({ instances: [instance] }),
      });
      if (res.ok) {
        const { version } = (await res.json()) as { version: number };
        seen.set(version, (seen.get(version) ?? 0) + 1);
        ok++;
      } else failed++;
    } catch (err) {
      failed++;
      logger.debug({ err }, 'demo request failed');
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 / opts.rate - (Date.now() - started))));
  }
  return { ok, failed, versions: [...seen].map(([v, n]) => `v${v} ${n}`).join(', ') || 'none' };
}
