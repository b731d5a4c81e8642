import { connections } from '../../config/env';
import { CredentialsError, credentialsFile, findToken } from '../../people/credentials';
import { CliError, type CliContext } from './context';

/**
 * The CLI's way to act as a person: every decision and steering action goes to
 * the approvals service with the caller's personal token, which is the only
 * thing that proves who is acting. The service answers what happened or why not.
 */
export async function callApprovals<T>(ctx: CliContext, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let found;
  try {
    found = findToken(ctx.env);
  } catch (err) {
    if (err instanceof CredentialsError) throw new CliError(err.message);
    throw err;
  }
  if (!found) throw new CliError(`no factory token: set FACTORY_TOKEN or keep yours in ${credentialsFile(ctx.env)} (mode 0600); an admin issues one with: factory people token <id>`);
  const url = `${connections(ctx.env).approvalsUrl}${path}`;
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${found.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  }).catch((err: Error) => {
    throw new CliError(`cannot reach the approvals service at ${url} (${err.message}); is the factory up? (./factory up)`);
  });
  const answer = (await res.json().catch(() => ({}))) as T & { error?: string };
  if (!res.ok) throw new CliError(`${answer.error ?? `the approvals service answered ${res.status}`}${res.status === 401 ? ` (the token from ${found.source})` : ''}`);
  return answer;
}

/** Who the caller's token proves they are; with `claimed`, it must be that person. */
export async function verifiedCaller(ctx: CliContext, claimed?: string): Promise<string> {
  const { id } = await callApprovals<{ id: string }>(ctx, 'GET', '/v1/whoami');
  if (claimed !== undefined && claimed !== id) throw new CliError(`--as ${claimed} does not match your token, which is ${id}'s`);
  return id;
}
