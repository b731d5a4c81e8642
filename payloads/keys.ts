import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';

/** A payload key: its id (kept in each payload it encrypts, for rotation) and its 32 bytes. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

const entrySchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._-]{1,64}:[A-Za-z0-9+/=_-]+$/, 'expected <key id>:<32 bytes in base64>, e.g. k2026:3q2+7w…');

/**
 * The keys payloads are encrypted with: `FACTORY_PAYLOAD_KEYS` or the file named
 * by `FACTORY_PAYLOAD_KEYS_FILE`, each a comma- or line-separated list of
 * `<id>:<base64 key>`. The first encrypts; every one decrypts, so a new key goes
 * first and the old one stays listed until no history needs it. None: payloads
 * are stored as they are.
 */
export function payloadKeys(env: { FACTORY_PAYLOAD_KEYS?: string; FACTORY_PAYLOAD_KEYS_FILE?: string }): PayloadKey[] {
  let text = env.FACTORY_PAYLOAD_KEYS;
  let source = 'FACTORY_PAYLOAD_KEYS';
  if (!text && env.FACTORY_PAYLOAD_KEYS_FILE) {
    source = env.FACTORY_PAYLOAD_KEYS_FILE;
    if (!fs.existsSync(source)) throw new Error(`FACTORY_PAYLOAD_KEYS_FILE=${source} does not exist`);
    if ((fs.statSync(source).mode & 0o077) !== 0) throw new Error(`${source} is readable by others than its owner; chmod 600 it`);
    text = fs.readFileSync(source, 'utf8');
  }
  if (!text) return [];
  const keys = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'))
    .map((entry, i) => {
      const parsed = entrySchema.safeParse(entry);
      // The entry itself is never echoed: it holds the key.
      if (!parsed.success) throw new Error(`${source}, entry ${i + 1}: ${parsed.error.issues[0].message}`);
      const [id, encoded] = [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)];
      const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
      if (key.length !== 32) throw new Error(`${source}, key "${id}": ${key.length} bytes, AES-256 needs 32 (e.g. openssl rand -base64 32)`);
      return { id, key };
    });
  const ids = new Set<string>();
  for (const k of keys) {
    if (ids.has(k.id)) throw new Error(`${source}: key id "${k.id}" is listed twice`);
    ids.add(k.id);
  }
  return keys;
}

/** A key's fingerprint for logs: says which key without giving it away. */
export const fingerprint = (k: PayloadKey) => createHash('sha256').update(k.key).digest('hex').slice(0, 12);
