import { requireModel, CliError, type CliContext } from './context';

/** How long a link `factory report` prints stays valid: long enough to read it today, short enough not to be a standing credential. */
export const REPORT_LINK_SECONDS = 24 * 3600;

/**
 * A freshly signed link to a version's latest evaluation report (the newest
 * evaluated version's without one). Links are made when a person asks, never
 * stored: a pre-signed URL is a credential for as long as it lasts.
 */
export async function reportLink(ctx: CliContext, model: string, version?: number): Promise<{ version: number; url: string }> {
  if (version !== undefined && !(Number.isInteger(version) && version > 0)) throw new CliError(`version must be a version number, such as 3; got "${version}"`);
  const m = await requireModel(ctx, model, { action: 'model.report', version });
  const r = await ctx.db.query<{ version: number; report_key: string }>(
    `SELECT v.version, e.report_key FROM evaluations e JOIN model_versions v ON v.id = e.model_version_id
      WHERE v.model_id = $1 AND ($2::int IS NULL OR v.version = $2) AND e.report_key IS NOT NULL
      ORDER BY v.version DESC, e.id DESC LIMIT 1`,
    [m.id, version ?? null],
  );
  if (r.rowCount === 0) throw new CliError(`${model}${version === undefined ? '' : ` v${version}`} has no evaluation report yet`);
  return { version: r.rows[0].version, url: await ctx.store.presign(r.rows[0].report_key, REPORT_LINK_SECONDS) };
}
