import fs from 'node:fs';
import { parse } from 'yaml';
import { upsertModel } from '../../db/models';
import { parseModelSpec } from '../../specs/model-spec';
import { syncSchedules } from '../../triggers/schedules';
import type { CliContext } from './context';
import { CliError } from './context';

export function readSpecFile(file: string) {
  if (!fs.existsSync(file)) throw new CliError(`model spec file ${file} does not exist`);
  let raw: unknown;
  try {
    raw = parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  try {
    return parseModelSpec(raw, file);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export async function registerModel(ctx: CliContext, file: string): Promise<string> {
  const spec = readSpecFile(file);
  const { changed } = await upsertModel(ctx.db, spec, ctx.actor);
  const schedules = await syncSchedules(ctx.client, spec);
  const t = spec.triggers;
  const triggers = [
    t.schedule && `schedule ${t.schedule.every ? `every ${t.schedule.every}` : `cron "${t.schedule.cron}"`} ${t.schedule.timezone}`,
    t.rows && `every ${t.rows} new rows`,
    t.drift && `drift check every ${t.drift.every} (PSI >= ${t.drift.psiThreshold}${t.drift.minLiveAuc ? `, live AUC < ${t.drift.minLiveAuc}` : ''})`,
    t.energy && `automatic runs within ${t.energy.deadline} at the cheapest energy window`,
  ].filter(Boolean);
  return [
    `${spec.name}: ${changed ? 'registered' : 'unchanged'} (${spec.features.length} features, trainer ${spec.trainer.kind}, approvers ${spec.approval.approvers.join(', ')})`,
    `  retrains on: ${['request', ...triggers].join('; ')}`,
    ...(schedules.length ? [`  schedules: ${schedules.join(', ')}`] : []),
  ].join('\n');
}

export async function listModels(ctx: CliContext): Promise<string> {
  const res = await ctx.db.query<{ name: string; description: string; champion: number | null; versions: string; batches: string }>(
    `SELECT m.name, m.spec->>'description' AS description,
            (SELECT v.version FROM model_aliases a JOIN model_versions v ON v.id = a.version_id WHERE a.model_id = m.id AND a.alias = 'champion') AS champion,
            (SELECT count(*) FROM model_versions v WHERE v.model_id = m.id) AS versions,
            (SELECT count(*) FROM data_batches b WHERE b.model_id = m.id AND b.status = 'accepted') AS batches
       FROM models m ORDER BY m.name`,
  );
  if (res.rowCount === 0) return 'no models registered (factory register models/<name>.yaml)';
  return res.rows
    .map((r) => `${r.name}\tchampion ${r.champion ? `v${r.champion}` : 'none'}\t${r.versions} versions\t${r.batches} batches\t${r.description}`)
    .join('\n');
}
