import type { Pool } from 'pg';
import type { LogWindow } from '../contracts/payloads';
import type { LiveWindow } from '../ml/rollout-guard';

/** Scores more than this per window add little to a PSI and cost a large transfer. */
const SCORE_SAMPLE = 20_000;

/**
 * One request per row of a window of the prediction log (a request's rows are
 * scored together). With `pairedWith`, only requests that the other window's
 * version also scored count (shadow: both scored the same requests).
 */
function windowRequests(model: string, w: LogWindow, pairedWith?: LogWindow) {
  return {
    sql: `WITH w AS (
       SELECT request_id, bool_and(ok) AS ok, max(latency_ms) AS latency_ms, avg(score) AS score FROM predictions
        WHERE model = $1 AND version = $2 AND role = $3 AND at >= $4 AND ($5::timestamptz IS NULL OR at < $5)
          AND ($6::int IS NULL OR request_id IN (SELECT request_id FROM predictions WHERE model = $1 AND version = $6 AND role = $7 AND at >= $8))
        GROUP BY request_id)`,
    params: [model, w.version, w.role, w.from, w.to ?? null, pairedWith?.version ?? null, pairedWith?.role ?? null, pairedWith?.from ?? null] as unknown[],
  };
}

/**
 * One version's figures over a window of the prediction log, as the rollout
 * guard reads them: counts, errors and latency in SQL, and a sample of the
 * scores for the PSI. With `slowerThanMs`, also how many requests took longer.
 */
export async function readWindow(db: Pool, model: string, w: LogWindow, opts: { pairedWith?: LogWindow; slowerThanMs?: number } = {}): Promise<LiveWindow & { scores: number[] }> {
  const { sql, params } = windowRequests(model, w, opts.pairedWith);
  const r = await db.query<{ requests: string; errors: string; slow: string | null; p50: number | null; p99: number | null; mean: number | null; scores: number[] | null }>(
    `${sql}
     SELECT count(*) AS requests, count(*) FILTER (WHERE NOT ok) AS errors,
            CASE WHEN $9::float8 IS NULL THEN NULL ELSE count(*) FILTER (WHERE latency_ms > $9::float8) END AS slow,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99,
            avg(score) AS mean,
            (SELECT array_agg(score) FROM (SELECT score FROM w WHERE score IS NOT NULL LIMIT ${SCORE_SAMPLE}) s) AS scores
       FROM w`,
    [...params, opts.slowerThanMs ?? null],
  );
  const x = r.rows[0];
  const requests = Number(x.requests);
  const errors = Number(x.errors);
  const slow = x.slow === null ? {} : { slow: Number(x.slow) };
  return { version: w.version, requests, errors, errorRate: requests ? errors / requests : 0, p50Ms: x.p50 ?? 0, p99Ms: x.p99 ?? 0, meanScore: x.mean ?? 0, ...slow, scores: x.scores ?? [] };
}

/** How many requests of a window took longer than `ms`. */
export async function countSlower(db: Pool, model: string, w: LogWindow, ms: number, pairedWith?: LogWindow): Promise<number> {
  const { sql, params } = windowRequests(model, w, pairedWith);
  const r = await db.query<{ slow: string }>(`${sql} SELECT count(*) FILTER (WHERE latency_ms > $9::float8) AS slow FROM w`, [...params, ms]);
  return Number(r.rows[0].slow);
}
