import fs from 'node:fs';
import path from 'node:path';
import { loadEnv } from '../../config/env';
import { connectClient } from '../../config/temporal-connection';
import { createPrivateKey } from 'node:crypto';
import { signingKeyFile } from '../../approvals/signing-key';
import { historyText } from './helpers';

/**
 * After the whole integration run: no log file and no workflow history holds
 * a configured secret (the S3 secret key and the database password of the
 * test stack, the people's tokens, the bearer tokens the tests gave the
 * services, the approvals service's signing key). Histories are searched with
 * their payloads decoded, where a secret passed as an argument would be.
 */
export async function auditSecrets(extra: Record<string, string>): Promise<string> {
  const env = loadEnv();
  const people = JSON.parse(process.env.FACTORY_TEST_TOKENS ?? '{}') as Record<string, string>;
  const keyPem = fs.readFileSync(signingKeyFile(env), 'utf8');
  const rawKey = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const secrets: Record<string, string> = {
    S3_SECRET_ACCESS_KEY: env.S3_SECRET_ACCESS_KEY,
    EMBEDDED_PG_PASSWORD: env.EMBEDDED_PG_PASSWORD,
    'signing key (PEM)': keyPem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''),
    'signing key (hex)': rawKey.toString('hex'),
    'signing key (base64)': rawKey.toString('base64'),
    // fct_<16 hex id>_<secret>: the secret is base64url, which has underscores of its own.
    ...Object.fromEntries(Object.entries(people).flatMap(([who, t]) => [[`${who}'s token`, t], [`${who}'s token secret`, t.slice('fct_'.length + 16 + 1)]])),
    ...extra,
  };
  const logs = path.join(env.FACTORY_DATA_DIR, 'logs');
  const texts: Record<string, string> = Object.fromEntries(fs.readdirSync(logs).map((f) => [`log ${f}`, fs.readFileSync(path.join(logs, f), 'utf8')]));
  const { client, connection } = await connectClient(env);
  try {
    for await (const wf of client.workflow.list()) {
      texts[`history ${wf.workflowId} ${wf.runId}`] = historyText(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
    }
  } finally {
    await connection.close();
  }
  const found = Object.entries(texts).flatMap(([where, text]) => Object.entries(secrets).filter(([, s]) => text.includes(s)).map(([what]) => `${what} in ${where}`));
  const counts = `${Object.keys(texts).filter((k) => k.startsWith('log')).length} log files and ${Object.keys(texts).filter((k) => k.startsWith('history')).length} workflow histories`;
  if (found.length > 0) throw new Error(`secrets audit: ${found.length} secrets found in ${counts}:\n  ${found.join('\n  ')}`);
  return `secrets audit: none of ${Object.keys(secrets).length} secrets in ${counts}`;
}
