import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/**
 * One connection to a fresh in-memory database on one thread (so results, and
 * files written, do not depend on the machine), closed with the database
 * however fn ends.
 */
export async function withDuckDB<T>(fn: (db: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  try {
    const connection = await instance.connect();
    try {
      return await fn(connection);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** A name as a quoted SQL identifier: column names cannot be bound as parameters. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Text as a SQL string literal, for the few places a value cannot be a bound parameter. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

