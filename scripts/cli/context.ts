import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { connections, loadEnv, type FactoryEnv } from '../../config/env';
import { audit, findModel, UnknownModelError, type ModelRow } from '../../db/models';
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

/** The model by name; an unknown one is a CliError, and the refused attempt is written to the audit trail. */
export async function requireModel(
  ctx: CliContext,
  model: string,
  refused: { action: string; actor?: string; version?: number; details?: Record<string, unknown> },
): Promise<ModelRow> {
  try {
    return await findModel(ctx.db, model);
  } catch (err) {
    if (!(err instanceof UnknownModelError)) throw err;
    await audit(ctx.db, {
      actor: refused.actor ?? ctx.actor,
      action: refused.action,
      model,
      version: refused.version,
      channel: 'cli',
      outcome: 'denied',
      details: { reason: err.message, ...refused.details },
    });
    throw new CliError(err.message);
  }
}

export function workflowUrl(ctx: Pick<CliContext, 'uiUrl' | 'env'>, workflowId: string): string {
  return `${ctx.uiUrl}/namespaces/${ctx.env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`;
}

/** "3" or "v3" as a version number; undefined for anything else. */
export function parseVersion(text: string): number | undefined {
  const v = Number(text.replace(/^v/, ''));
  return Number.isInteger(v) && v >= 1 ? v : undefined;
}

export const notAVersion = (text: string) => `"${text}" is not a version number (expected e.g. 3 or v3)`;
