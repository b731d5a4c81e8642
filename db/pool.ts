import { Pool, type PoolClient } from 'pg';
import { logger } from '../config/logger';

export function createDbPool(connectionString: string): Pool {
  const pool = new Pool({ connectionString, max: 5, application_name: process.env.FACTORY_SERVICE ?? 'ai-factory' });
  // An idle connection dropped by the server (restart, failover) is replaced on next use; unhandled, it would crash the process.
  // Only the message and code: the error carries the whole client object.
  pool.on('error', (err) => logger.warn({ error: err.message, code: (err as { code?: string }).code }, 'idle PostgreSQL connection lost'));
  return pool;
}

/** Runs fn in one transaction; any throw rolls everything back. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection lost mid-transaction fails the statement in flight; the client's own 'error' event, unhandled while it is
  // checked out, would crash the process. The lost client is discarded, not put back in the pool.
  let lost: Error | undefined;
  const onError = (err: Error) => (lost = err);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (!lost) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
}

/**
 * Several writes as one: given a pool, they get their own transaction; given a
 * client, they run in the transaction its caller holds, so they compose into a larger one.
 */
export function atomically<T>(db: Pool | PoolClient, fn: (db: PoolClient) => Promise<T>): Promise<T> {
  return db instanceof Pool ? inTransaction(db, fn) : fn(db);
}
