import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { z } from 'zod';

/**
 * The signed assertion that carries a person's decision from the approvals
 * service (the only holder of the signing key) to a workflow. Workflows verify
 * it with this module, so it stays free of Node APIs and side effects: the
 * verification is pure JavaScript and deterministic, safe to replay.
 */

// Synchronous verification needs SHA-512 given to it: the workflow sandbox has no WebCrypto.
ed.hashes.sha512 = sha512;

export const ASSERTION_ACTIONS = ['approve', 'reject', 'pause', 'resume', 'abort'] as const;
export type AssertionAction = (typeof ASSERTION_ACTIONS)[number];

/** How long an assertion is good for once issued: long enough for one update to arrive, too short to hoard. */
export const ASSERTION_TTL_MS = 2 * 60_000;
/** Clock difference between the service and workflow time that is still taken as "now". */
const CLOCK_SKEW_MS = 30_000;

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes in hex`);

export const assertionClaimsSchema = z
  .object({
    v: z.literal(1),
    /** Which signing key: the first 8 bytes of the public key's SHA-256, in hex. */
    keyId: hex(8),
    workflowId: z.string().min(1),
    model: z.string().min(1),
    version: z.number().int().min(1),
    action: z.enum(ASSERTION_ACTIONS),
    /** The verified factory identity of the person. */
    identity: z.string().min(1),
    channel: z.enum(['slack', 'cli']),
    comment: z.string().max(2000).optional(),
    issuedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    /** 16 random bytes: the assertion's id, accepted once. */
    nonce: hex(16),
  })
  .strict();
export type AssertionClaims = z.infer<typeof assertionClaimsSchema>;

export const signedAssertionSchema = z.object({ claims: assertionClaimsSchema, signature: hex(64) }).strict();
export type SignedAssertion = z.infer<typeof signedAssertionSchema>;

/** The bytes that are signed: the claims as JSON with their keys in sorted order, so signer and verifier agree byte for byte. */
export function signedBytes(claims: AssertionClaims): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(claims, Object.keys(claims).sort()));
}

export const keyIdOf = (publicKeyHex: string): string => toHex(sha256(fromHex(publicKeyHex))).slice(0, 16);

/** What the verifying workflow expects the assertion to be about. */
export interface Expected {
  workflowId: string;
  version: number;
  actions: readonly AssertionAction[];
}

export type Verification = { ok: true; claims: AssertionClaims } | { ok: false; reason: string };

/**
 * Checks an assertion as a workflow must before it counts: a known key signed
 * exactly these claims, they are about this workflow, version and action, they
 * have not expired by workflow time, and their nonce was not used before.
 * `publicKeys` maps key ids to raw Ed25519 public keys in hex.
 */
export function verifyAssertion(input: unknown, publicKeys: Record<string, string>, expected: Expected, nowMs: number, usedNonces: ReadonlySet<string>): Verification {
  const parsed = signedAssertionSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, reason: `no valid signed assertion (${parsed.error.issues.map((i) => `${i.path.join('.') || 'assertion'}: ${i.message}`).join('; ')}); decisions come only through the approvals service: Slack or factory approve|reject` };
  }
  const { claims, signature } = parsed.data;
  const key = publicKeys[claims.keyId];
  if (!key) return { ok: false, reason: `the assertion is signed with key ${claims.keyId}, which is not a key of this factory's approvals service` };
  let valid = false;
  try {
    valid = ed.verify(fromHex(signature), signedBytes(claims), fromHex(key));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'the assertion\'s signature does not verify: it was not issued by the approvals service, or was altered' };
  if (claims.workflowId !== expected.workflowId) return { ok: false, reason: `the assertion is for workflow ${claims.workflowId}, not ${expected.workflowId}` };
  if (claims.version !== expected.version) return { ok: false, reason: `the assertion is for v${claims.version}, not v${expected.version}` };
  if (!expected.actions.includes(claims.action)) return { ok: false, reason: `the assertion is for "${claims.action}", not ${expected.actions.map((a) => `"${a}"`).join(' or ')}` };
  if (Date.parse(claims.expiresAt) < nowMs) return { ok: false, reason: `the assertion expired at ${claims.expiresAt}` };
  if (Date.parse(claims.issuedAt) > nowMs + CLOCK_SKEW_MS) return { ok: false, reason: `the assertion is issued in the future (${claims.issuedAt})` };
  if (usedNonces.has(claims.nonce)) return { ok: false, reason: `the assertion ${claims.nonce} was already used` };
  return { ok: true, claims };
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}
