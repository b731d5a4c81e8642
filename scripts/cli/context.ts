import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { connections, loadEnv, type FactoryEnv } from '../../config/env';
import { createPool } from '../../db/pool';
import { ArtifactStore } from '../../storage/artifacts';

/** Connections a CLI command needs, opened once and closed when the command ends. */
export interface CliContext {
  env: FactoryEnv;
  client: Client;
  db: Pool;
  store: ArtifactStore;
  uiUrl: string;
  actor: string;
}

export class CliError extends Error {}

export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>, env: FactoryEnv = loadEnv()): Promise<T> {
  const c = connections(env);
  const connection = await Connection.connect({ address: c.temporalAddress, connectTimeout: 3000 }).catch((err) => {
    throw new CliError(`cannot reach Temporal at ${c.temporalAddress} (${err.message}); is the stack up? Run: ./factory up`);
  });
  const db = createPool(c.databaseUrl);
  try {
    return await fn({
      env,
      client: new Client({ connection, namespace: c.namespace }),
      db,
      store: ArtifactStore.fromEnv(env, c.s3Endpoint),
      uiUrl: c.temporalUi,
      actor: process.env.FACTORY_USER ?? os.userInfo().username,
    });
  } finally {
    await connection.close();
    await db.end();
  }
}

export function workflowUrl(ctx: Pick<CliContext, 'uiUrl' | 'env'>, workflowId: string): string {
  return `${ctx.uiUrl}/namespaces/${ctx.env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`;
}
