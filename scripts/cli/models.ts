import fs from 'node:fs';
import { parse } from 'yaml';
import { allChampions } from '../../db/champion';
import { audit, findModel, UnknownModelError, upsertModel } from '../../db/models';
import { ADMINS, DirectoryError, resolveApprovers } from '../../people/directory';
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

/**
 * Registers or updates a model as `actor` (recorded in the spec's history).
 * Approvers the directory does not know are refused, and so is a new approval
 * policy from someone who is not an admin: whoever could rewrite it could
 * make themselves the approver of their own model.
 */
export async function registerModel(ctx: CliContext, file: string, actor: string, opts: { mayChangeApproval: boolean }): Promise<string> {
  const spec = readSpecFile(file);
  if (!opts.mayChangeApproval) {
    const current = await findModel(ctx.db, spec.name).catch((err) => (err instanceof UnknownModelError ? undefined : Promise.reject(err)));
    if (JSON.stringify(current?.spec.approval) !== JSON.stringify(spec.approval)) {
      const reason = `${file}: ${current ? `changes ${spec.name}'s approval policy` : `registers a new model with an approval policy`}; only an admin may (group ${ADMINS})`;
      await audit(ctx.db, { actor, action: 'model.register', model: spec.name, channel: 'cli', outcome: 'denied', details: { reason } });
      throw new CliError(reason);
    }
  }
  await resolveApprovers(ctx.db, spec.approval.approvers).catch((err) => {
    throw err instanceof DirectoryError ? new CliError(`${file}: approval.approvers: ${err.message}; add them first (factory people add <id> --name "<name>")`) : err;
  });
  const { changed } = await upsertModel(ctx.db, spec, actor);
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
  const champions = await allChampions(ctx.db);
  const res = await ctx.db.query<{ id: string; name: string; description: string; versions: string; batches: string }>(
    `SELECT m.id, m.name, m.spec->>'description' AS description,
            (SELECT count(*) FROM model_versions v WHERE v.model_id = m.id) AS versions,
            (SELECT count(*) FROM data_batches b WHERE b.model_id = m.id AND b.status = 'accepted') AS batches
       FROM models m ORDER BY m.name`,
  );
  if (res.rowCount === 0) return 'no models registered (factory register models/<name>.yaml)';
  return res.rows
    .map((r) => `${r.name}\tchampion ${champions.has(Number(r.id)) ? `v${champions.get(Number(r.id))!.version}` : 'none'}\t${r.versions} versions\t${r.batches} batches\t${r.description}`)
    .join('\n');
}
