import crypto from 'node:crypto';
import fs from 'node:fs';
import { dataPaths, type FactoryEnv } from '../config/env';
import { loadOrCreateEd25519, publicKeyFile } from '../config/ed25519-key-file';
import { ASSERTION_TTL_MS, keyIdOf, signedBytes, type AssertionAction, type AssertionClaims, type SignedAssertion } from './assertion';

/**
 * The approvals service's Ed25519 signing key: the one secret that makes a
 * decision count. It lives only in this process and in its 0600 key file; the
 * public half goes beside it (and to workers, which hand it to workflows).
 */
export class SigningKey {
  private constructor(
    private readonly privateKey: crypto.KeyObject,
    readonly publicKeyHex: string,
    readonly keyId: string,
  ) {}

  /** Loads the key from its PEM file, creating both files on first start. */
  static loadOrCreate(file: string): SigningKey {
    const { privateKey, publicKeyHex } = loadOrCreateEd25519(file, 'approval signing key');
    return new SigningKey(privateKey, publicKeyHex, keyIdOf(publicKeyHex));
  }

  /** An assertion of one person's action on one workflow, good for ASSERTION_TTL_MS from now. */
  sign(input: { workflowId: string; model: string; version: number; action: AssertionAction; identity: string; channel: 'slack' | 'cli'; comment?: string }, now = Date.now()): SignedAssertion {
    const { comment, ...about } = input;
    const claims: AssertionClaims = {
      v: 1,
      keyId: this.keyId,
      ...about,
      ...(comment ? { comment } : {}),
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ASSERTION_TTL_MS).toISOString(),
      nonce: crypto.randomBytes(16).toString('hex'),
    };
    return { claims, signature: crypto.sign(null, signedBytes(claims), this.privateKey).toString('hex') };
  }
}

/** A public key given as hex (32 bytes) or read from a .pub file, keyed by its id, as workflows take it. */
export function publicKeys(hexKeys: string[]): Record<string, string> {
  return Object.fromEntries(
    hexKeys.map((k) => k.trim().toLowerCase()).filter(Boolean).map((k) => {
      if (!/^[0-9a-f]{64}$/.test(k)) throw new Error('an approval public key must be 32 bytes in hex (the .pub file beside the signing key)');
      return [keyIdOf(k), k];
    }),
  );
}

/** The signing key's file: FACTORY_APPROVALS_KEY_FILE, or its place under the data dir. */
export const signingKeyFile = (env: FactoryEnv) => env.FACTORY_APPROVALS_KEY_FILE ?? dataPaths(env).approvalsKey;

/**
 * The public keys workers hand to workflows: FACTORY_APPROVALS_PUBLIC_KEY (the
 * multi-host deployment), else the .pub file the approvals service wrote on
 * this host. Read at each call, so a rotated key needs no worker restart.
 */
export function configuredPublicKeys(env: FactoryEnv): Record<string, string> {
  if (env.FACTORY_APPROVALS_PUBLIC_KEY) return publicKeys(env.FACTORY_APPROVALS_PUBLIC_KEY.split(','));
  const file = publicKeyFile(signingKeyFile(env));
  return fs.existsSync(file) ? publicKeys([fs.readFileSync(file, 'utf8')]) : {};
}
