import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { connections, loadEnv, type FactoryEnv } from '../../config/env';
import { connectClient } from '../../config/temporal-connection';
import { audit, findModel, UnknownModelError, type ModelRow } from '../../db/models';
import { createDbPool } from '../../db/pool';
import { credentialsFile, CredentialsError, findToken, type FoundToken } from '../../people/credentials';
import { ADMINS, authenticate, AuthenticationError, DirectoryError, type Person } from '../../people/directory';
import { parseToken } from '../../people/tokens';
import { ArtifactStore } from '../../storage/artifacts';

/** Connections a CLI command needs, opened once and closed when the command ends. */
export interface CliContext {
  env: FactoryEnv;
  client: Client;
  db: Pool;
  store: ArtifactStore;
  actor: string;
}

export class CliError extends Error {}

export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>, env: FactoryEnv = loadEnv()): Promise<T> {
  const c = connections(env);
  const { client, connection } = await connectClient(env, 3000).catch((err) => {
    throw new CliError(`cannot reach Temporal at ${c.temporalAddress} (${err.message}); is the stack up? Run: ./factory up`);
  });
  const db = createDbPool(c.databaseUrl);
  try {
    return await fn({
      env,
      client,
      db,
      store: ArtifactStore.fromEnv(env, c.s3Endpoint),
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

/**
 * The person the CLI's token proves the caller to be (FACTORY_TOKEN, else the
 * credentials file). No token, or one refused, is a CliError, audited under
 * `action` as unauthenticated with the OS user it came from, never the token.
 */
export async function callerOf(ctx: CliContext, action = 'cli.authenticate'): Promise<Person> {
  const deny = async (reason: string, details: Record<string, unknown> = {}, actor = 'unauthenticated'): Promise<never> => {
    await audit(ctx.db, { actor, action, channel: 'cli', outcome: 'denied', details: { reason, osUser: ctx.actor, ...details } });
    throw new CliError(reason);
  };
  let found: FoundToken | undefined;
  try {
    found = findToken(ctx.env);
  } catch (err) {
    if (err instanceof CredentialsError) return deny(err.message);
    throw err;
  }
  if (!found) {
    return deny(`no factory token: set FACTORY_TOKEN or keep yours in ${credentialsFile(ctx.env)} (mode 0600); an admin issues one with: factory people token <id>`);
  }
  try {
    return await authenticate(ctx.db, found.token);
  } catch (err) {
    if (!(err instanceof AuthenticationError)) throw err;
    // The token id is public; it says which token was tried without giving it away.
    return deny(`${err.message} (the token from ${found.source})`, { tokenSource: found.source, tokenId: parseToken(found.token)?.tokenId }, err.personId);
  }
}

/**
 * Runs an admin's command (`factory people`, `factory deployment current`) as
 * the verified caller, who must be in group admins. Every refusal (no or bad
 * token, not an admin, a change the directory refuses) is a CliError and is
 * written to the audit trail.
 */
export async function asAdmin<T>(ctx: CliContext, action: string, details: Record<string, unknown>, fn: (admin: Person) => Promise<T>, what = 'manage people'): Promise<T> {
  const caller = await callerOf(ctx, action);
  const deny = async (reason: string): Promise<never> => {
    await audit(ctx.db, { actor: caller.id, action, channel: 'cli', outcome: 'denied', details: { ...details, reason } });
    throw new CliError(reason);
  };
  if (!caller.groups.includes(ADMINS)) return deny(`${caller.id} is not in group "${ADMINS}"; only its members ${what}`);
  try {
    return await fn(caller);
  } catch (err) {
    if (err instanceof DirectoryError || err instanceof CliError) return deny(err.message);
    throw err;
  }
}

/** "3" or "v3" as a version number; undefined for anything else. */
export function parseVersion(text: string): number | undefined {
  const v = Number(text.replace(/^v/, ''));
  return Number.isInteger(v) && v >= 1 ? v : undefined;
}

export const notAVersion = (text: string) => `"${text}" is not a version number (expected e.g. 3 or v3)`;
