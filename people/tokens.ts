import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * A person's CLI token: `fct_<tokenId>_<secret>`. The token id is public and
 * finds the row; the secret is shown once and stored only as a scrypt hash.
 * Nothing here logs or puts a token or secret in an error message.
 */

export interface ParsedToken {
  tokenId: string;
  secret: string;
}

const TOKEN = /^fct_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A fresh token: 8 random bytes of id, 32 of secret. */
export function newToken(): ParsedToken & { token: string } {
  const tokenId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { token: `fct_${tokenId}_${secret}`, tokenId, secret };
}

/** The token's parts; undefined for anything that is not exactly a token. */
export function parseToken(text: string): ParsedToken | undefined {
  const m = TOKEN.exec(text);
  return m ? { tokenId: m[1], secret: m[2] } : undefined;
}

// 2^14 × 8 × 128 bytes = 16 MiB per hash: OWASP's scrypt floor, about 50 ms on a server core.
const PARAMS = { N: 16_384, r: 8, p: 1 };
const KEY_BYTES = 32;
// A stored hash is read back with the parameters it names; these bounds keep an altered row from asking for gigabytes or minutes.
const MAX = { N: 1 << 17, r: 16, p: 4 };

function derive(secret: string, salt: Buffer, params: { N: number; r: number; p: number }, bytes: number): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) => scrypt(secret, salt, bytes, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url), so the parameters can change without invalidating stored hashes. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(secret, salt, PARAMS, KEY_BYTES);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Whether the secret hashes to the stored value; false for a stored value that is not a hash this module writes. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map((s) => (/^[1-9][0-9]{0,7}$/.test(s) ? Number(s) : 0));
  if (!(N > 1 && N <= MAX.N && (N & (N - 1)) === 0 && r >= 1 && r <= MAX.r && p >= 1 && p <= MAX.p)) return false;
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (salt.length < 16 || expected.length < 16) return false;
  const actual = await derive(secret, salt, { N, r, p }, expected.length);
  return timingSafeEqual(actual, expected);
}
