import { Pool, type PoolClient } from 'pg';
import { logger } from '../config/logger';

export function createDbPool(connectionString: string): Pool {
  const pool = new Pool({ connectionString, max: 5, application_name: process.env.FACTORY_SERVICE ?? 'ai-factory' });
  // An idle connection dropped by the server (restart, failover) is replaced on next use; unhandled, it would crash the process.
  // Only the message and code: the error carries the whole client object.
  pool.on('error', (err) => logger.warn({ error: err.message, code: (err as { code?: string }).code }, 'idle PostgreSQL connection lost'));
  return pool;
}

/**
 * Runs fn on a client checked out of the pool. A connection lost meanwhile
 * fails the statement in flight; the client's own 'error' event, unhandled
 * while it is checked out, would crash the process. A lost client, or one a
 * failure left in doubt (`discardOnError`), is discarded rather than put back.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient, lost: () => Error | undefined) => Promise<T>, discardOnError = false): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => (lost = err);
  client.on('error', onError);
  try {
    return await fn(client, () => lost);
  } catch (err) {
    if (discardOnError) lost ??= err as Error;
    throw err;
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
}

/** Runs fn in one transaction; any throw rolls everything back. */
export function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client, lost) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (!lost()) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Several writes as one: given a pool, they get their own transaction; given a
 * client, they run in the transaction its caller holds, so they compose into a larger one.
 */
export function atomically<T>(db: Pool | PoolClient, fn: (db: PoolClient) => Promise<T>): Promise<T> {
  return db instanceof Pool ? inTransaction(db, fn) : fn(db);
}
